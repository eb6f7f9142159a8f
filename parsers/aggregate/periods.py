"""Periods (l4w, l1m, ly, lifetime) and the figures and per-day series computed over them."""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.aggregate.daily import BAND_AGES, DailyMessages
from parsers.aggregate.native import in_c
from parsers.aggregate.series import SPARSE_BELOW, stored_series
from parsers.instants import day_to_iso

PERIOD_DAYS = {"l4w": 28, "l1m": 30, "ly": 365}
PERIODS = ("l4w", "l1m", "ly", "lifetime")


@dataclass(frozen=True)
class Period:
    """A named range of UTC day numbers, both ends inclusive (None when the package has no data)."""

    name: str
    start: int | None
    end: int | None

    @property
    def days(self) -> int:
        """Return the number of days in the period."""
        return 0 if self.start is None or self.end is None else self.end - self.start + 1

    def header(self) -> dict:
        """Return the start, end and days fields of a period document."""
        return {
            "start": None if self.start is None else day_to_iso(self.start),
            "end": None if self.end is None else day_to_iso(self.end),
            "days": self.days,
        }


def make_periods(end_day: int | None, first_day: int | None) -> dict[str, Period]:
    """Return the four periods ending on the package date's day."""
    if end_day is None:
        return {name: Period(name, None, None) for name in PERIODS}
    periods = {
        name: Period(name, end_day - days + 1, end_day) for name, days in PERIOD_DAYS.items()
    }
    start = end_day if first_day is None else min(first_day, end_day)
    periods["lifetime"] = Period("lifetime", start, end_day)
    return periods


def entity_lifetime(end_day: int | None, first_day: int | None) -> Period:
    """Return the lifetime of one entity: from its own first active day (a single day if none)."""
    if end_day is None:
        return Period("lifetime", None, None)
    return Period("lifetime", end_day if first_day is None else min(first_day, end_day), end_day)


def sum_in(days: Counter[int], period: Period) -> float:
    """Sum a day-keyed counter over a period."""
    start, end = period.start, period.end
    if not days or start is None or end is None:  # no days (most channels have no voice)
        return 0.0
    return float(sum(value for day, value in days.items() if start <= day <= end))


def merge(counters: Iterable[Counter]) -> Counter:
    """Add several counters into a new one."""
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return total


def message_blocks(
    daily: DailyMessages, periods: dict[str, Period], sparse: bool = True
) -> dict[str, dict]:
    """The messages block of each period; the periods end on the day the daily messages end.

    A period whose length is not one of the age bands' must start on or before the first active
    day (a lifetime does). The cost follows the active days, never the periods' lengths, unless
    `sparse` is False (per-day series always zero-filled, see `stored_series`). In C when built
    (`_dayfold.message_blocks`: an entity's four blocks in one call), else
    `python_message_blocks`, its reference.
    """
    blocks = in_c(
        "message_blocks",
        daily.days,
        daily.counts,
        daily.hours_to_band,
        daily.weekdays_to_band,
        periods,
        BAND_AGES,
        SPARSE_BELOW,
        sparse,
    )
    return python_message_blocks(daily, periods, sparse) if blocks is None else blocks


def python_message_blocks(
    daily: DailyMessages, periods: dict[str, Period], sparse: bool = True
) -> dict[str, dict]:
    """message_blocks in Python (the C loop's reference)."""
    return {name: _message_block(daily, period, sparse) for name, period in periods.items()}


def voice_blocks(
    minutes: Counter[int], periods: dict[str, Period], sparse: bool = True
) -> dict[str, dict]:
    """The voice block of each of periods that end on the same day; each day rounded once.

    In C when built (`_dayfold.voice_blocks`, which rounds as `round(x, 1)` does without its
    decimal string, and sums with Python's own `sum`), else `python_voice_blocks`, its
    reference.
    """
    blocks = in_c("voice_blocks", minutes, periods, SPARSE_BELOW, sparse) if minutes else None
    return python_voice_blocks(minutes, periods, sparse) if blocks is None else blocks


def python_voice_blocks(
    minutes: Counter[int], periods: dict[str, Period], sparse: bool = True
) -> dict[str, dict]:
    """voice_blocks in Python (the C loop's reference)."""
    if not minutes:  # most channels: no voice at all
        return {
            name: {
                "minutes": 0.0,
                "per_day": stored_series(period.start, period.days, 0.0, [], [], sparse),
            }
            for name, period in periods.items()
        }
    longest = max(periods.values(), key=lambda period: period.days)
    start, end = longest.start, longest.end
    if start is None or end is None:
        days: list[int] = []
    else:
        days = sorted(day for day, value in minutes.items() if value and start <= day <= end)
    values = [minutes[day] for day in days]
    rounded = [round(value, 1) for value in values]
    blocks = {}
    for name, period in periods.items():
        first = 0 if period.start is None else bisect_left(days, period.start)
        blocks[name] = {
            # summed unrounded in day order: what summing the zero-filled list gives
            "minutes": round(float(sum(values[first:])), 1),
            "per_day": stored_series(
                period.start, period.days, 0.0, days[first:], rounded[first:], sparse
            ),
        }
    return blocks


def _message_block(daily: DailyMessages, period: Period, sparse: bool) -> dict:
    """The messages block of one period (total, per_day, per_hour, per_weekday, active, average)."""
    if period.start is None:
        return _messages_block(period, ([], []), [0] * 24, [0] * 7, sparse)
    first = bisect_left(daily.days, period.start)
    per_hour, per_weekday = daily.hours_and_weekdays(period.days, period.start)
    active = (daily.days[first:], daily.counts[first:])
    return _messages_block(period, active, per_hour, per_weekday, sparse)


def _messages_block(
    period: Period,
    active: tuple[list[int], list[int]],
    per_hour: list[int],
    per_weekday: list[int],
    sparse: bool,
) -> dict:
    """The messages block of a period from its active days and their counts."""
    days, counts = active
    total = sum(counts)
    return {
        "total": total,
        "per_day": stored_series(period.start, period.days, 0, days, counts, sparse),
        "per_hour": per_hour,
        "per_weekday": per_weekday,
        "active_days": len(counts),
        "average_per_active_day": round(total / len(counts), 2) if counts else 0,
    }
