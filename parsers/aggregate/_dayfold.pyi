"""Types of the per-day fold of messages in C (_dayfold.c, built with the project)."""

def fold_hours(
    hours: dict[int, int], end: int, band_of_age: bytes, bands: int, /
) -> tuple[list[int], list[int], list[int], list[int]]:
    """(days, counts, hours_to_band, weekdays_to_band), as daily.daily_messages folds them."""

def merge_days(series: list[tuple[list[int], list[int]]], /) -> tuple[list[int], list[int]]:
    """The per-day sum of several (days, counts), zero days left out."""

def totals_since(days: list[int], counts: list[int], starts: list[int | None], /) -> list[int]:
    """Messages from each start day to the last day (0 for a start of None)."""

def sparse_gaps(active: list[int], values: list, origin: int, /) -> list:
    """[gap, value, ...]: each active day's distance from the day after the previous one."""

def column_sums(rows: list[list[int]], /) -> list[int]:
    """The sum of each column of rows of equal length."""

def message_blocks(
    days: list[int],
    counts: list[int],
    hours_to_band: list[int],
    weekdays_to_band: list[int],
    periods: dict,
    band_ages: tuple[int, ...],
    sparse_below: int,
    sparse: bool,
    /,
) -> dict[str, dict]:
    """The messages block of each period, as periods.python_message_blocks builds them."""

def voice_blocks(
    minutes: dict[int, float], periods: dict, sparse_below: int, sparse: bool, /
) -> dict[str, dict]:
    """The voice block of each period, as periods.python_voice_blocks builds them."""

def periods_json(
    days: list[int],
    counts: list[int],
    hours_to_band: list[int],
    weekdays_to_band: list[int],
    periods: dict,
    band_ages: tuple[int, ...],
    sparse_below: int,
    sparse: bool,
    openings: list[bytes],
    closings: list[bytes],
    /,
) -> bytes:
    """An entity's periods object as JSON: each period's opening, its messages block as
    message_blocks makes it (written as orjson writes it), its closing."""
