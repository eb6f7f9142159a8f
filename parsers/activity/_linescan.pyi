"""Types of the C loop of the activity fast path (_linescan.c, built by setup.py)."""

from collections.abc import Callable

class NameTable:
    """The names dict (event name bytes -> event type) as scan() reads it (a capsule)."""

def name_table(names: dict[bytes, str], /) -> NameTable:
    """The names dict as it is now, for scan()."""

def name_table_add(table: NameTable, name: bytes, event_type: str, /) -> None:
    """One more name in the table (it grows as needed)."""

def scan(
    buffer: bytes,
    pos: int,
    stop: int,
    max_line: int,
    name_table: NameTable,
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
