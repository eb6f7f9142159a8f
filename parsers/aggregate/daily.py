"""Messages per active day: one pass over a channel's hour keys, then sums per server and person.

Every period ends on the package date's day, so a period is a tail of the active days; only the
hour of day is lost when hours are folded into days, so hours are also summed by age band (0-27,
28-29, 30-364 days before the end day, older), each band's row holding the newer bands too: a
fixed period's per-hour figures are one row, and a lifetime's, which holds every active day, the
last. Rows of sums add up like the bands (a server's rows are its channels' rows summed).
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.aggregate.native import in_c

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


@dataclass(slots=True)
class DailyMessages:
    """Messages per active day (ascending, none after the end day) and up to each age band.

    Never changed once made (a group of one channel shares its channel's); not frozen, because
    a frozen dataclass's `__init__` sets each field through `object.__setattr__`, which made
    it four times slower to build than the C fold that fills it (one per channel).
    """

    days: list[int]
    counts: list[int]
    hours_to_band: list[int]  # BANDS rows of 24 hours of day: row b sums the bands 0..b
    weekdays_to_band: list[int]  # BANDS rows of 7 weekdays (Monday first), summed the same way

    def total_since(self, start: int | None) -> int:
        """Messages from the day `start` to the end day (0 for a period without days)."""
        if start is None:
            return 0
        return sum(self.counts[bisect_left(self.days, start) :])

    def totals_since(self, starts: list[int | None]) -> list[int]:
        """total_since of each start, in one call (in C when built: `_dayfold.totals_since`)."""
        totals = in_c("totals_since", self.days, self.counts, starts)
        return [self.total_since(start) for start in starts] if totals is None else totals

    def hours_and_weekdays(self, length: int, start: int) -> tuple[list[int], list[int]]:
        """per_hour and per_weekday of the period of `length` days from `start` to the end day."""
        if length in BAND_AGES:
            bands = BAND_AGES.index(length) + 1
        elif self.days and self.days[0] < start:
            raise ValueError("a period of another length than the bands' must hold every day")
        else:
            bands = BANDS
        return (
            self.hours_to_band[(bands - 1) * 24 : bands * 24],
            self.weekdays_to_band[(bands - 1) * 7 : bands * 7],
        )


def daily_messages(hours: Counter[int], end: int | None) -> DailyMessages:
    """Fold an hour-keyed counter (hours since the epoch) into days, up to the end day."""
    folded = None if end is None else in_c("fold_hours", hours, end, _BAND_TABLE, BANDS)
    return fold_hours(hours, end) if folded is None else DailyMessages(*folded)


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
    return _from_days(per_day, _cumulated(hours_by_band, 24), _cumulated(weekdays_by_band, 7))


def _cumulated(by_band: list[int], width: int) -> list[int]:
    """Rows of `width` per band made rows of the sums up to each band."""
    for slot in range(width, len(by_band)):
        by_band[slot] += by_band[slot - width]
    return by_band


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
    hours = _column_sums([daily.hours_to_band for daily in dailies])
    weekdays = _column_sums([daily.weekdays_to_band for daily in dailies])
    merged = in_c("merge_days", [(daily.days, daily.counts) for daily in dailies])
    if merged is None:
        return _from_days(merge_days(dailies), hours, weekdays)
    days, counts = merged
    return DailyMessages(days, counts, hours, weekdays)


def _column_sums(rows: list[list[int]]) -> list[int]:
    sums = in_c("column_sums", rows)
    return column_sums(rows) if sums is None else sums


def column_sums(rows: list[list[int]]) -> list[int]:
    """The sum of each column of rows of equal length in Python (the C loop's reference)."""
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
