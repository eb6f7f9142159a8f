"""parsers/ imports nothing above it, and inside it each folder imports only the ones below."""

import pytest

from tests.support.imports import (
    PROJECT_ROOT,
    STANDARD_LIBRARY,
    imports_of,
    module_name,
    python_files,
    top_level,
)

FILES = python_files("parsers")
# The rest of the product, its services and their clients: never imported by a parser.
ABOVE = {"api", "tasks", "storage", "samples", "settings", "celery", "flask", "pymongo", "requests"}
# Besides the standard library, parsers use parsing libraries only.
LIBRARIES = {"orjson", "isal"}
# Folders (and top-level modules) of parsers/, lowest first: each imports only lower ranks.
RANKS = {
    **dict.fromkeys(("errors", "limits", "instants", "streams"), 0),
    "archive": 1,
    "sources": 2,
    "activity": 2,
    "aggregate": 3,
    "ahead": 3,  # a zip read ahead of its run (launchers.local)
    "views": 4,
    "reading": 5,
    "package": 6,
    "": 7,  # parsers/__init__.py: the public names
}
INFLATER = PROJECT_ROOT / "parsers" / "archive" / "inflater.py"


def folder_of(module: str) -> str:
    """The folder (or top-level module) of parsers that holds a module: "" for the package."""
    return module.split(".")[1] if "." in module else ""


def test_every_parser_module_is_found():
    assert len(FILES) > 25 and PROJECT_ROOT / "parsers" / "package.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda path: module_name(path))
def test_a_parser_imports_nothing_above_it(path):
    found = {name for name in imports_of(path) if top_level(name) in ABOVE}
    assert not found, f"{module_name(path)} imports {sorted(found)}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: module_name(path))
def test_a_parser_imports_the_standard_library_parsing_libraries_and_parsers_only(path):
    allowed = STANDARD_LIBRARY | LIBRARIES | {"parsers"}
    found = {name for name in imports_of(path) if top_level(name) not in allowed}
    assert not found, f"{module_name(path)} imports {sorted(found)}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: module_name(path))
def test_a_parser_folder_imports_only_the_folders_below_it(path):
    own = folder_of(module_name(path))
    assert own in RANKS, f"place parsers/{own} in RANKS of {__file__}"
    upward = {
        name
        for name in imports_of(path)
        if top_level(name) == "parsers"
        and folder_of(name) != own
        and RANKS.get(folder_of(name), 99) >= RANKS[own]
    }
    assert not upward, f"{module_name(path)} ({own or 'parsers'}) imports {sorted(upward)}"


def test_the_inflater_script_needs_only_the_standard_library_and_shadows_nothing():
    # It runs as a script (`python parsers/archive/inflater.py`): its folder comes first on
    # sys.path, so a sibling named like a standard module would replace that module.
    assert {top_level(name) for name in imports_of(INFLATER)} <= STANDARD_LIBRARY | {"isal"}
    siblings = {path.stem for path in INFLATER.parent.glob("*.py")} - {"__init__"}
    assert not siblings & STANDARD_LIBRARY
