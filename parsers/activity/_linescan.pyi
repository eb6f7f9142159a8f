"""Types of the C loop of the activity fast path (_linescan.c, built by setup.py)."""

from collections.abc import Callable

def scan(
    buffer: bytes,
    pos: int,
    stop: int,
    max_line: int,
    names: dict[bytes, str],
    plans: dict,
    hours: dict,
    max_hours: int,
    hour_of: Callable[..., object],
    counts: dict,
    bounds: dict,
    pending: list,
    /,
) -> tuple[int, int, int]:
    """(next_pos, lines, too_long): next_pos < stop is a line left to Python."""

def hour_number(prefix: bytes, /) -> int | None:
    """Hours since the epoch of a YYYY-MM-DDTHH prefix as C reads it; None: Python decides."""

MIN_SECONDS: int
