"""Periods (l4w, l1m, ly, lifetime) and the zero-filled series computed over them."""

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

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

    def contains(self, day: int) -> bool:
        """Tell whether a day number falls in the period."""
        return self.start is not None and self.start <= day <= self.end  # type: ignore[operator]

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


def message_block(hours: Counter[int], period: Period) -> dict:
    """Return the messages block (total, per_day, per_hour, per_weekday, active days, average)."""
    per_day = [0] * period.days
    per_hour = [0] * 24
    per_weekday = [0] * 7
    if period.start is not None:
        # Keys are hours since the epoch; compare keys, not days, to keep the loop tight.
        start, low, high = period.start, period.start * 24, period.end * 24 + 23  # type: ignore[operator]
        for key, count in hours.items():
            if low <= key <= high:
                day = key // 24
                per_day[day - start] += count
                per_hour[key % 24] += count
                per_weekday[(day + 3) % 7] += count  # day 0, 1970-01-01, was a Thursday
    return _messages_block(per_day, per_hour, per_weekday)


def voice_block(minutes: Counter[int], period: Period) -> dict:
    """Return the voice block (minutes and zero-filled per_day minutes)."""
    per_day = [0.0] * period.days
    start, end = period.start, period.end
    seen = False
    if start is not None:
        for day, value in minutes.items():
            if start <= day <= end:  # type: ignore[operator]
                per_day[day - start] += value
                seen = True
    total = round(float(sum(per_day)), 1)
    if seen:
        per_day = [round(value, 1) for value in per_day]
    return {"minutes": total, "per_day": per_day}


def sum_in(days: Counter[int], period: Period) -> float:
    """Sum a day-keyed counter over a period."""
    if period.start is None:
        return 0.0
    start, end = period.start, period.end
    return float(sum(value for day, value in days.items() if start <= day <= end))  # type: ignore[operator]


def totals_per_period(hours: Counter[int], periods: dict[str, Period]) -> dict[str, int]:
    """Sum an hour-keyed counter (hours since the epoch) over each period, keys sorted once."""
    keys = sorted(hours)
    totals = {}
    for name, period in periods.items():
        if period.start is None:
            totals[name] = 0
            continue
        low = bisect_left(keys, period.start * 24)
        high = bisect_right(keys, period.end * 24 + 23, low)  # type: ignore[operator]
        totals[name] = sum(map(hours.__getitem__, keys[low:high]))
    return totals


def merge(counters: Iterable[Counter]) -> Counter:
    """Add several counters into a new one."""
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return total


def first_day(hours: Counter[int] | None, voice: Counter[int] | None) -> int | None:
    """Return the first active day of an hour-keyed message and a day-keyed voice counter."""
    candidates = []
    if hours:
        candidates.append(min(hours) // 24)
    if voice:
        candidates.append(min(voice))
    return min(candidates) if candidates else None


def nested_message_blocks(
    hour_counters: list[Counter[int]], periods: dict[str, Period]
) -> dict[str, dict]:
    """The message blocks of every period at once, from one pass over the hour keys.

    Same result as message_block for each period, for periods that all end on the same day and
    nest (l4w within l1m within ly within lifetime; see entity_lifetime): each key is visited
    once; per_day of a shorter period is the tail of the longest one's, per_weekday comes from
    per_day, and per_hour from hour counts kept per age band (0-27, 28-29, 30-364 days, older).
    """
    longest = max(periods.values(), key=lambda period: period.days)
    start, end = longest.start, longest.end
    if start is None or end is None:
        return {name: message_block(Counter(), period) for name, period in periods.items()}
    limits = sorted(end - period.start + 1 for period in periods.values())  # ages, ascending
    band_of_age = [0] * (end - start + 1)
    for band, limit in enumerate(limits[:-1], start=1):
        band_of_age[limit:] = [band * 24] * max(0, len(band_of_age) - limit)
    per_day = [0] * (end - start + 1)
    hours_by_band = [0] * (24 * len(limits))
    low, high = start * 24, end * 24 + 23
    for hours in hour_counters:
        for key, count in hours.items():
            if low <= key <= high:
                age = end - key // 24
                per_day[-1 - age] += count
                hours_by_band[band_of_age[age] + key % 24] += count
    return {
        name: _block_of(period, per_day, hours_by_band, limits.index(period.days))
        for name, period in periods.items()
    }


def _block_of(period: Period, per_day: list[int], hours_by_band: list[int], band: int) -> dict:
    days = period.days
    own = per_day[-days:] if days <= len(per_day) else [0] * (days - len(per_day)) + per_day
    per_hour = [sum(hours_by_band[hour : 24 * (band + 1) : 24]) for hour in range(24)]
    first_weekday = (period.start + 3) % 7  # type: ignore[operator]  # day 0 was a Thursday
    per_weekday = [0] * 7
    for offset in range(7):
        per_weekday[(first_weekday + offset) % 7] = sum(own[offset::7])
    return _messages_block(own, per_hour, per_weekday)


def _messages_block(per_day: list[int], per_hour: list[int], per_weekday: list[int]) -> dict:
    """The messages block of a period from its zero-filled series."""
    total = sum(per_day)
    active = len(per_day) - per_day.count(0)
    return {
        "total": total,
        "per_day": per_day,
        "per_hour": per_hour,
        "per_weekday": per_weekday,
        "active_days": active,
        "average_per_active_day": round(total / active, 2) if active else 0,
    }
