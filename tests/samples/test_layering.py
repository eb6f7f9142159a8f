"""samples/ is an independent oracle: the standard library only, never a table of parsers."""

import pytest

from tests.support.imports import STANDARD_LIBRARY, imports_of, module_name, python_files, top_level

FILES = python_files("samples")


def test_every_sample_module_is_found():
    assert len(FILES) > 10


@pytest.mark.parametrize("path", FILES, ids=lambda path: module_name(path))
def test_a_sample_module_imports_nothing_from_parsers(path):
    found = {name for name in imports_of(path) if top_level(name) == "parsers"}
    assert not found, f"{module_name(path)} imports {sorted(found)}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: module_name(path))
def test_a_sample_module_imports_the_standard_library_and_samples_only(path):
    found = {name for name in imports_of(path) if top_level(name) not in STANDARD_LIBRARY}
    assert {top_level(name) for name in found} <= {"samples"}, f"{module_name(path)}: {found}"
