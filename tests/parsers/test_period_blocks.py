"""Period blocks from daily messages, with sparse stored series, serve the reference blocks."""

import random
from collections import Counter

import orjson
import pytest

from api.series import served_period, zero_filled
from parsers.aggregate.daily import daily_messages, merge_daily
from parsers.aggregate.periods import (
    Period,
    entity_lifetime,
    make_periods,
    message_blocks,
    voice_blocks,
)
from parsers.aggregate.series import SPARSE_BELOW, stored_series
from tests.parsers.reference_periods import reference_message_blocks, reference_voice_blocks

END_DAY = 19_800


def served(messages: dict, voice: dict) -> bytes:
    """The blocks of every period as the API serves them, as JSON bytes (0 and 0.0 differ)."""
    blocks = {name: {"messages": messages[name], "voice": voice[name]} for name in messages}
    blocks = orjson.loads(orjson.dumps(blocks))  # as sealed and read back
    return orjson.dumps({name: served_period(block) for name, block in blocks.items()})


def random_case(rng: random.Random, channels: int, history: int, voice_days: int):
    """Hour counters of a group of channels, its voice minutes and its nested periods."""
    end_day = END_DAY + rng.randint(0, 400)
    hours = [Counter() for _ in range(channels)]
    for counter in hours:
        for _ in range(rng.randint(0, 80)):
            day = end_day - min(history, int(rng.expovariate(3 / history))) + rng.choice([0, 0, 3])
            counter[day * 24 + rng.randint(0, 23)] += rng.randint(1, 5)
    voice = Counter()
    for _ in range(voice_days):  # tenths and hundredths, halves included, to test the rounding
        day = end_day - rng.randint(-2, history)
        voice[day] += rng.choice([0.05, 0.25, 12.35, 2.5, 1 / 3, 0.1 + 0.2, rng.random() * 90])
    periods = make_periods(end_day, end_day - rng.choice([0, 5, 29, 31, 400, history]))
    starts = [min(counter) // 24 for counter in hours if counter] + [min(voice, default=end_day)]
    # an entity's lifetime starts on its first day; the package's may start earlier
    periods["lifetime"] = entity_lifetime(end_day, min(starts) - rng.choice([0, 0, 10]))
    return hours, voice, periods


def new_blocks(hours: list[Counter], voice: Counter, periods: dict[str, Period]) -> bytes:
    """The blocks from each channel's daily messages, summed, as served."""
    end = max(period.end or 0 for period in periods.values()) or None
    daily = merge_daily(daily_messages(counter, end) for counter in hours)
    return served(message_blocks(daily, periods), voice_blocks(voice, periods))


@pytest.mark.parametrize(
    ("channels", "history", "voice_days"),
    [(1, 200, 0), (3, 200, 5), (1, 8 * 365, 40), (40, 8 * 365, 0), (2, 3000, 2500), (1, 60, 60)],
    ids=["channel", "group", "long-history", "many-channels", "voice-heavy", "dense"],
)
@pytest.mark.parametrize("seed", range(12))
def test_served_blocks_equal_the_reference_blocks(seed, channels, history, voice_days):
    rng = random.Random(f"{seed}:{channels}:{history}:{voice_days}")
    hours, voice, periods = random_case(rng, channels, history, voice_days)
    expected = served(
        reference_message_blocks(hours, periods), reference_voice_blocks(voice, periods)
    )
    assert new_blocks(hours, voice, periods) == expected


def test_blocks_without_a_package_date_are_empty():
    periods = {name: Period(name, None, None) for name in ("l4w", "lifetime")}
    hours, voice = [Counter({480_000: 2})], Counter({20_000: 1.5})
    expected = served(
        reference_message_blocks(hours, periods), reference_voice_blocks(voice, periods)
    )
    assert new_blocks(hours, voice, periods) == expected


def test_a_period_of_another_length_must_hold_every_active_day():
    periods = make_periods(END_DAY, END_DAY - 500)
    periods["lifetime"] = Period("lifetime", END_DAY - 400, END_DAY)
    daily = daily_messages(Counter({(END_DAY - 450) * 24: 1}), END_DAY)
    with pytest.raises(ValueError, match="every day"):
        message_blocks(daily, periods)


def test_a_long_quiet_history_is_stored_as_its_active_days():
    periods = make_periods(END_DAY, END_DAY - 20 * 365)
    hours = [Counter({(END_DAY - 7000) * 24 + 5: 2, (END_DAY - 3) * 24: 1})]
    voice = Counter({END_DAY - 6000: 30.04})
    daily = daily_messages(hours[0], END_DAY)
    messages, minutes = message_blocks(daily, periods), voice_blocks(voice, periods)
    lifetime = messages["lifetime"]["per_day"]
    assert lifetime == {"days": 7301, "zero": 0, "gaps": [300, 2, 6996, 1]}
    served_lifetime = zero_filled(lifetime)
    assert len(served_lifetime) == 7301 and sum(served_lifetime) == 3
    assert (served_lifetime[300], served_lifetime[7297]) == (2, 1)
    assert minutes["lifetime"]["per_day"]["gaps"] == [1300, 30.0]
    assert minutes["l4w"] == {"minutes": 0.0, "per_day": {"days": 28, "zero": 0.0, "gaps": []}}
    assert messages["l4w"]["per_day"]["gaps"] == [24, 1]


def test_a_series_is_stored_dense_from_one_active_day_in_four():
    active = list(range(100, 140, SPARSE_BELOW))
    assert stored_series(100, 40, 0, active, [1] * 10) == [1, 0, 0, 0] * 10
    sparse = stored_series(100, 41, 0.0, active, [1.5] * 10)
    assert sparse["gaps"][:4] == [0, 1.5, 3, 1.5] and sparse["zero"] == 0.0
    assert zero_filled(sparse) == [1.5, 0.0, 0.0, 0.0] * 10 + [0.0]
    assert stored_series(None, 0, 0, [], []) == []
