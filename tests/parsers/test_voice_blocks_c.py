"""The voice blocks in C (`_dayfold.voice_blocks`) give what their Python reference gives
(`periods.python_voice_blocks`) to the bit: `round(x, 1)` without its decimal string, Python's
own `sum`, the same series; and they hand the Python loop what they do not take.

Fails, rather than skips, when the extension is not built: `make venv` builds it."""

import math
import struct
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from parsers.aggregate.native import dayfold
from parsers.aggregate.periods import (
    Period,
    entity_lifetime,
    make_periods,
    python_voice_blocks,
    voice_blocks,
)
from parsers.aggregate.series import SPARSE_BELOW

END = 20_000  # a day in 2024

# Minutes as pairing makes them, and any finite float whose sums stay below the exact
# rounding's reach (ties such as 0.25 and 2.675 among them: hypothesis draws "nice" floats).
MINUTES = st.one_of(
    st.floats(min_value=0, max_value=1440, allow_nan=False),
    st.integers(min_value=-40_000, max_value=40_000).map(lambda n: n / 20),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
)
DAYS = st.one_of(
    st.integers(min_value=END - 40, max_value=END + 2),
    st.integers(min_value=END - 4000, max_value=END + 2),
)


def bits(blocks) -> str:
    """The blocks written out, each float by its exact bits (so -0.0 and 0.0 differ, as do
    floats a repr would show alike), with types and key order."""
    if isinstance(blocks, float):
        return struct.pack("<d", blocks).hex()
    if isinstance(blocks, dict):
        return "{" + ",".join(f"{key!r}:{bits(value)}" for key, value in blocks.items()) + "}"
    if isinstance(blocks, list):
        return "[" + ",".join(bits(value) for value in blocks) + "]"
    return f"{type(blocks).__name__}:{blocks!r}"


def periods_of(end: int | None, first: int | None, own_first: int | None) -> dict[str, Period]:
    """An entity's periods as `EntityPeriods.own` makes them: the package's, its own lifetime."""
    periods = make_periods(end, first)
    periods["lifetime"] = entity_lifetime(periods["lifetime"].end, own_first)
    return periods


def test_the_c_voice_blocks_are_built():
    assert dayfold is not None and hasattr(dayfold, "voice_blocks")


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(DAYS, MINUTES, min_size=1, max_size=60).map(Counter),
    st.one_of(st.none(), st.integers(min_value=END - 4000, max_value=END)),
    st.booleans(),
)
def test_the_c_blocks_give_the_python_blocks(minutes, first, sparse):
    periods = periods_of(END, first, min(minutes))
    expected = bits(python_voice_blocks(minutes, periods, sparse))
    assert bits(dayfold.voice_blocks(minutes, periods, SPARSE_BELOW, sparse)) == expected
    assert bits(voice_blocks(minutes, periods, sparse)) == expected


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=-9.99e13, max_value=9.99e13, allow_nan=False))
@example(0.25)  # a true tie: to the even 0.2
@example(0.35)  # just under 0.35: 0.3
@example(2.675)
@example(0.05)  # just over 0.05: 0.1
@example(-0.04)  # -0.0
@example(-0.0)
@example(5e-324)
@example(0.15000000000000002)
@example(1e13 + 0.25)
def test_each_day_is_rounded_as_round_rounds_it(value):
    blocks = dayfold.voice_blocks(
        Counter({END: value}), periods_of(END, END, END), SPARSE_BELOW, False
    )
    if value == 0:  # a day of no minutes is no active day
        assert blocks["l4w"]["per_day"] == [0.0] * 28
        return
    assert bits(blocks["l4w"]["per_day"][-1]) == bits(round(value, 1))
    assert bits(blocks["lifetime"]["minutes"]) == bits(round(value, 1))


def test_every_tie_and_its_neighbours_round_as_round_rounds_them():
    """Each k/20 (the halves of tenths, most not exact doubles) and the floats on either side."""
    for k in range(-20_001, 20_001, 1):
        for value in (k / 20, math.nextafter(k / 20, math.inf), math.nextafter(k / 20, -math.inf)):
            if value == 0:
                continue
            blocks = dayfold.voice_blocks(
                Counter({END: value}), {"day": Period("day", END, END)}, SPARSE_BELOW, False
            )
            assert bits(blocks["day"]["per_day"][0]) == bits(round(value, 1)), value


def test_a_block_by_hand():
    minutes = Counter({END - 400: 3.0, END - 20: 0.25, END - 1: 1.26, END: 10.04, END - 5: 0.0})
    periods = periods_of(END, END - 500, END - 400)
    blocks = dayfold.voice_blocks(minutes, periods, SPARSE_BELOW, True)
    assert blocks["l4w"] == {
        # 0.25 + 1.26 + 10.04 sums to 11.549999999999999 in floats: 11.5, not 11.6
        "minutes": 11.5,
        "per_day": {"days": 28, "zero": 0.0, "gaps": [7, 0.2, 18, 1.3, 0, 10.0]},
    }
    assert blocks["lifetime"]["minutes"] == 14.5
    assert list(blocks) == ["l4w", "l1m", "ly", "lifetime"]
    dense = dayfold.voice_blocks(minutes, periods, SPARSE_BELOW, False)
    assert dense["l4w"]["per_day"] == [0.0] * 7 + [0.2] + [0.0] * 18 + [1.3, 10.0]
    assert bits(dense) == bits(python_voice_blocks(minutes, periods, False))


def test_periods_without_days_and_minutes_outside_every_period():
    no_days = make_periods(None, None)
    assert bits(dayfold.voice_blocks(Counter({END: 2.0}), no_days, SPARSE_BELOW, True)) == bits(
        python_voice_blocks(Counter({END: 2.0}), no_days, True)
    )
    later = Counter({END + 3: 5.0})  # after the end day: in no period
    periods = periods_of(END, END - 10, END - 10)
    blocks = dayfold.voice_blocks(later, periods, SPARSE_BELOW, True)
    assert blocks["l4w"] == {"minutes": 0.0, "per_day": {"days": 28, "zero": 0.0, "gaps": []}}
    assert bits(blocks) == bits(python_voice_blocks(later, periods, True))


REFUSED = {
    "int-minutes": Counter({END: 3}),
    "bool-minutes": Counter({END: True}),
    "nan": Counter({END: math.nan}),
    "infinite": Counter({END: math.inf}),
    "beyond-exact-rounding": Counter({END: 1e14}),
    "float-day": Counter({float(END): 2.0}),
    "huge-day": Counter({1 << 70: 2.0}),
}


@pytest.mark.parametrize("minutes", list(REFUSED.values()), ids=list(REFUSED))
def test_minutes_the_c_blocks_do_not_take_get_the_python_blocks(minutes):
    periods = periods_of(END, END - 10, END - 10)
    with pytest.raises((OverflowError, TypeError)):
        dayfold.voice_blocks(minutes, periods, SPARSE_BELOW, True)
    try:
        expected = bits(python_voice_blocks(minutes, periods, True))
    except TypeError as error:  # what Python makes of keys it cannot compare
        with pytest.raises(type(error)):
            voice_blocks(minutes, periods, True)
    else:
        assert bits(voice_blocks(minutes, periods, True)) == expected


def test_a_day_after_a_period_s_end_in_a_zero_filled_series_is_python_s_to_refuse():
    """Periods that do not end on the same day (never made so): the longest's days go into a
    shorter period's list past its end, which Python refuses."""
    periods = {"long": Period("long", END - 10, END), "short": Period("short", END - 10, END - 5)}
    minutes = Counter({END: 2.0})
    with pytest.raises(OverflowError):
        dayfold.voice_blocks(minutes, periods, SPARSE_BELOW, False)
    with pytest.raises(IndexError):
        voice_blocks(minutes, periods, False)
