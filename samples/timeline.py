"""The timeline of a sample package: which days are busy, which hours, and time formats."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DAY_US = 86_400_000_000
DISCORD_EPOCH_MS = 1_420_070_400_000
# Discord opened on 2015-05-13: no id is older (17 digits or more, like real ones).
DISCORD_LAUNCH = date(2015, 5, 13)
LAUNCH_MS = (DISCORD_LAUNCH - date(1970, 1, 1)).days * 86_400_000
# Hour-of-day rhythm (UTC): quiet at night, a lunch bump, an evening peak.
HOUR_WEIGHTS = (
    3,
    2,
    1,
    1,
    1,
    1,
    2,
    4,
    6,
    7,
    8,
    9,
    12,
    11,
    10,
    10,
    12,
    15,
    18,
    21,
    23,
    22,
    16,
    8,
)
HOUR_CUM = tuple(itertools.accumulate(HOUR_WEIGHTS))
HOURS = tuple(range(24))


@dataclass(frozen=True)
class Timeline:
    """Days of the package span with their weights; every timestamp stays before `final_us`."""

    start: date
    days: int
    day_cum: tuple[float, ...]
    final_us: int  # microseconds since the Unix epoch of the newest instant of the package

    def date_of(self, index: int) -> date:
        """The date of a day index."""
        return self.start + timedelta(days=index)

    def limit_of(self, index: int) -> int:
        """How many microseconds of a day may hold generated timestamps."""
        return self.final_us - self.day_us(index) - 1_000_000 if index == self.days - 1 else DAY_US

    def day_us(self, index: int) -> int:
        """Microseconds since the Unix epoch at the start of a day index."""
        return (self.start - date(1970, 1, 1)).days * DAY_US + index * DAY_US


def build_timeline(rng: random.Random, end: date, days: int) -> Timeline:
    """Weights grow towards the end date; about one day in eight is idle."""
    weights = []
    for index in range(days):
        recency = (0.12 + (index + 1) / days) ** 1.7
        idle = rng.random() < 0.12 and index != days - 1
        weights.append(0.0 if idle else recency * rng.uniform(0.3, 1.7))
    start = end - timedelta(days=days - 1)
    final_s = rng.randrange(19 * 3600, 22 * 3600)
    final_us = ((end - date(1970, 1, 1)).days * 86_400 + final_s) * 1_000_000
    return Timeline(start, days, tuple(itertools.accumulate(weights)), final_us)


def allocate(total: int, cum: tuple[float, ...]) -> list[int]:
    """Split `total` over days in proportion to their weights (largest remainder, exact sum)."""
    if not cum or cum[-1] <= 0:
        return [0] * len(cum)
    weights = [b - a for a, b in zip((0.0, *cum[:-1]), cum, strict=True)]
    shares = [total * w / cum[-1] for w in weights]
    counts = [int(s) for s in shares]
    order = sorted(range(len(cum)), key=lambda i: counts[i] - shares[i])
    for index in order[: total - sum(counts)]:
        counts[index] += 1
    return counts


def times_in_day(rng: random.Random, count: int, limit: int) -> list[int]:
    """Sorted microsecond offsets inside one day, following the hourly rhythm, below `limit`."""
    hours = rng.choices(HOURS, cum_weights=HOUR_CUM, k=count)
    rand = rng.random
    times = [h * 3_600_000_000 + int(rand() * 3_600_000_000) for h in hours]
    if limit < DAY_US:
        times = [t % limit for t in times]
    times.sort()
    return times


def clock(offset_us: int) -> str:
    """`HH:MM:SS` of a microsecond offset inside a day."""
    seconds = offset_us // 1_000_000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def snowflake(rng: random.Random, epoch_ms: int) -> int:
    """A Discord snowflake for an instant (ms since the Unix epoch)."""
    if epoch_ms < LAUNCH_MS:  # a long history reaches before the launch: mirror, ids stay distinct
        epoch_ms = 2 * LAUNCH_MS - epoch_ms
    return ((epoch_ms - DISCORD_EPOCH_MS) << 22) | rng.getrandbits(22)


def iso_z(epoch_us: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` of an instant (the statistics' instant format)."""
    moment = datetime.fromtimestamp(epoch_us // 1_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
