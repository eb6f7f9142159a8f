"""Messages per active day: one pass over a channel's hour keys, then sums per server and person.

Every period ends on the package date's day, so a period is a tail of the active days; only the
hour of day is lost when hours are folded into days, so hours are also kept per age band (0-27,
28-29, 30-364 days before the end day, older): the fixed periods are exact sums of bands, and a
lifetime, which holds every active day, is the sum of all of them.
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from operator import add
from types import ModuleType

_dayfold: ModuleType | None
try:
    from parsers.aggregate import _dayfold  # the loops below in C: built by `make venv`
except ImportError:  # pragma: no cover - a checkout where the extension was not built
    _dayfold = None

BAND_AGES = (28, 30, 365)  # the fixed periods' lengths in days: l4w, l1m, ly
BANDS = len(BAND_AGES) + 1


def _band_of_age() -> list[int]:
    """The band of each age in days below the longest band age (older: the last band)."""
    table: list[int] = []
    for band, limit in enumerate(BAND_AGES):
        table += [band] * (limit - len(table))
    return table


_BAND_OF_AGE = _band_of_age()
_HOURS_AT_AGE = [band * 24 for band in _BAND_OF_AGE]  # where a band's 24 hours start
_BAND_TABLE = bytes(_BAND_OF_AGE)  # the same table for the C loop


@dataclass(frozen=True)
class DailyMessages:
    """Messages per active day (ascending, none after the end day) and per age band."""

    days: list[int]
    counts: list[int]
    hours_by_band: list[int]  # BANDS x 24 hours of day, the newest band first
    weekdays_by_band: list[int]  # BANDS x 7 weekdays, Monday first

    def total_since(self, start: int | None) -> int:
        """Messages from the day `start` to the end day (0 for a period without days)."""
        if start is None:
            return 0
        return sum(self.counts[bisect_left(self.days, start) :])

    def hours_and_weekdays(self, length: int, start: int) -> tuple[list[int], list[int]]:
        """per_hour and per_weekday of the period of `length` days from `start` to the end day."""
        if length in BAND_AGES:
            bands = BAND_AGES.index(length) + 1
        elif self.days and self.days[0] < start:
            raise ValueError("a period of another length than the bands' must hold every day")
        else:
            bands = BANDS
        hours, weekdays = self._sums_of_first_bands
        return list(hours[bands - 1]), list(weekdays[bands - 1])

    @cached_property
    def _sums_of_first_bands(self) -> tuple[list[list[int]], list[list[int]]]:
        """per_hour and per_weekday over the first 1, 2, ... BANDS bands (made once: an entity's
        four periods each take one)."""
        return _running_sums(self.hours_by_band, 24), _running_sums(self.weekdays_by_band, 7)


def daily_messages(hours: Counter[int], end: int | None) -> DailyMessages:
    """Fold an hour-keyed counter (hours since the epoch) into days, up to the end day."""
    if _dayfold is not None and end is not None:
        try:
            return DailyMessages(*_dayfold.fold_hours(hours, end, _BAND_TABLE, BANDS))
        except (OverflowError, TypeError):
            pass  # a number over 64 bits, or not a plain int: the Python loop takes any
    return fold_hours(hours, end)


def fold_hours(hours: Counter[int], end: int | None) -> DailyMessages:
    """daily_messages in Python (the C loop's reference)."""
    per_day: dict[int, int] = {}
    hours_by_band = [0] * (24 * BANDS)
    if end is None:
        return _from_days(per_day, hours_by_band, [0] * (7 * BANDS))
    high, oldest, tail = end * 24 + 23, len(_BAND_OF_AGE), (BANDS - 1) * 24
    for key, count in hours.items():  # the one pass over every key: kept tight
        if key <= high:
            day = key // 24
            per_day[day] = per_day.get(day, 0) + count
            age = end - day
            hours_by_band[(_HOURS_AT_AGE[age] if age < oldest else tail) + key % 24] += count
    weekdays_by_band = [0] * (7 * BANDS)
    for day, count in per_day.items():
        age = end - day
        band = _BAND_OF_AGE[age] if age < oldest else BANDS - 1
        weekdays_by_band[band * 7 + (day + 3) % 7] += count  # day 0, 1970-01-01, was a Thursday
    return _from_days(per_day, hours_by_band, weekdays_by_band)


def merge_daily(dailies: Iterable[DailyMessages]) -> DailyMessages:
    """The sum of several channels' daily messages (a server's, a person's, the package's).

    The sum of one is that one (DailyMessages is never changed once made): most DM groups and
    many servers hold a single channel.
    """
    dailies = list(dailies)
    if len(dailies) == 1:
        return dailies[0]
    if not dailies:
        return DailyMessages([], [], [0] * (24 * BANDS), [0] * (7 * BANDS))
    hours_by_band = _column_sums([daily.hours_by_band for daily in dailies])
    weekdays_by_band = _column_sums([daily.weekdays_by_band for daily in dailies])
    if _dayfold is not None:
        try:
            days, counts = _dayfold.merge_days([(daily.days, daily.counts) for daily in dailies])
            return DailyMessages(days, counts, hours_by_band, weekdays_by_band)
        except (OverflowError, TypeError):
            pass
    return _from_days(merge_days(dailies), hours_by_band, weekdays_by_band)


def _column_sums(rows: list[list[int]]) -> list[int]:
    return [sum(column) for column in zip(*rows, strict=True)]


def merge_days(dailies: list[DailyMessages]) -> dict[int, int]:
    """The per-day sums of several channels' messages in Python (the C loop's reference)."""
    per_day: dict[int, int] = {}
    for daily in dailies:
        for day, count in zip(daily.days, daily.counts, strict=True):
            per_day[day] = per_day.get(day, 0) + count
    return per_day


def _from_days(per_day: dict[int, int], hours: list[int], weekdays: list[int]) -> DailyMessages:
    days = sorted(day for day, count in per_day.items() if count)
    return DailyMessages(days, [per_day[day] for day in days], hours, weekdays)


def _running_sums(by_band: list[int], width: int) -> list[list[int]]:
    """The sums over the first 1, 2, ... BANDS bands of values kept per (band, slot of `width`)."""
    sums = [by_band[:width]]
    for band in range(1, BANDS):
        sums.append(list(map(add, sums[-1], by_band[band * width : (band + 1) * width])))
    return sums
