"""The C loops of this folder (`_dayfold.c`, built by `make venv`), each the twin of a Python loop
that stays the reference and the fallback."""

from types import ModuleType
from typing import Any

dayfold: ModuleType | None
try:
    from parsers.aggregate import _dayfold as dayfold
except ImportError:  # pragma: no cover - a checkout where the extension was not built
    dayfold = None


def in_c(loop: str, *args: Any) -> Any:
    """`_dayfold.<loop>(*args)`, or None where the caller's Python loop must run: the extension
    is not built, or it refuses the arguments (a number or a sum over 64 bits, anything but a
    plain int, days out of order)."""
    if dayfold is None:
        return None
    try:
        return getattr(dayfold, loop)(*args)
    except (OverflowError, TypeError):
        return None
