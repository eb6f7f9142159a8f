"""The imports of a source tree, read with ast (nothing is imported or run)."""

import ast
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STANDARD_LIBRARY = frozenset(sys.stdlib_module_names)


def module_name(path: Path) -> str:
    """Return the dotted module name of a file under the project root."""
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(package: str) -> list[Path]:
    """Return every .py file of a top-level package, sorted."""
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """Return the full names a file imports; `from a import b` gives a.b when b is a module."""
    package = ".".join(path.relative_to(PROJECT_ROOT).parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(_submodule_or(base, alias.name) for alias in node.names)
    return names


def _submodule_or(base: str, name: str) -> str:
    candidate = PROJECT_ROOT.joinpath(*base.split("."), name)
    if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
        return f"{base}.{name}"
    return base


def top_level(name: str) -> str:
    """Return the top-level package of a dotted name."""
    return name.partition(".")[0]
