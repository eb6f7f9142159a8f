"""Voice stays and sessions paired in C (`_pairs.c`) give what their Python reference gives
(`pick.pair_voice_py`, `pick.pair_sessions_py`), to the last bit, the types and the key order
included, and hand the Python loop every list of another shape, untouched."""

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.activity import pick
from parsers.activity.pick import ActivityTotals, pair_sessions_py, pair_voice_py

BASE = 1_700_000_000.0
# Instants that tie, stays of exactly and just over the 24-hour cap, days before 1970, and any
# finite float.
INSTANTS = st.one_of(
    st.sampled_from(
        [BASE, BASE + 0.5, BASE + 86_400.0, BASE + 86_400.5, BASE + 200_000.25, -86_401.5, 0.0]
    ),
    st.floats(min_value=-2e9, max_value=4e9, allow_nan=False, allow_infinity=False),
)
CHANNELS = st.sampled_from(["500000000000000001", "500000000000000002", "dm-3"])
GUILDS = st.one_of(st.none(), st.sampled_from(["300000000000000004", "300000000000000005"]))
VOICE = st.lists(st.tuples(INSTANTS, st.booleans(), CHANNELS, GUILDS), max_size=60)
SESSIONS = st.lists(
    st.tuples(INSTANTS, st.booleans(), st.sampled_from(["Windows", "Linux", "unknown"])),
    max_size=60,
)


@pytest.fixture(autouse=True, scope="module")
def built():
    if pick.native is None:
        pytest.fail("parsers/activity/_pairs.c is not built: run `make venv`")


def both(pairing, reference, events) -> tuple[ActivityTotals, ActivityTotals]:
    """The totals of the C loop (through `pairing`) and of the Python one, each on its copy."""
    in_c, in_python = ActivityTotals(), ActivityTotals()
    pairing(in_c, list(events))
    reference(in_python, list(events))
    return in_c, in_python


def same(one: ActivityTotals, other: ActivityTotals) -> bool:
    """Equal to the bit, with the same types and in the same order (pickles compare all three)."""
    return pickle.dumps(one) == pickle.dumps(other)


@settings(max_examples=400, deadline=None)
@given(VOICE)
def test_voice_stays_paired_in_c_as_in_python(events):
    in_c, in_python = both(pick._pair_voice, pair_voice_py, events)
    assert same(in_c, in_python)


@settings(max_examples=400, deadline=None)
@given(SESSIONS)
def test_sessions_paired_in_c_as_in_python(events):
    in_c, in_python = both(pick._pair_sessions, pair_sessions_py, events)
    assert same(in_c, in_python)


def test_a_stay_over_a_day_counts_the_cap_itself():
    """`min(seconds, cap)` returns the int cap: so does C, and a day's minutes add up alike."""
    events = [
        (BASE, True, "1", None),
        (BASE + 90_000.0, False, "1", "9"),
        (BASE + 90_000.0, True, "1", None),
        (BASE + 90_030.5, False, "1", None),
    ]
    in_c, in_python = both(pick._pair_voice, pair_voice_py, events)
    assert same(in_c, in_python)
    assert in_c.voice_stays[0][3] == 86_400 and type(in_c.voice_stays[0][3]) is int
    assert in_c.voice_guild == {"1": "9"}
    days = int(BASE // 86_400), int((BASE + 90_000) // 86_400)
    assert in_c.voice["1"] == {days[0]: 1440.0, days[1]: 30.5 / 60}


@pytest.mark.parametrize(
    "odd",
    [
        (1_700_000_000, True, "1", None),  # an int instant
        (math.nan, True, "1", None),
        (math.inf, False, "1", None),
        (BASE, 1, "1", None),  # not a bool
        (BASE, True, 1, None),  # a channel that is no str
        (BASE, True, "1", 2),
        (BASE, True, "1"),  # too short
        [BASE, True, "1", None],  # not a tuple
    ],
)
def test_another_shape_is_left_to_python_with_nothing_counted(odd):
    events = [(BASE, True, "2", "9"), (BASE + 60.0, False, "2", None), odd]
    totals = ActivityTotals()
    assert pick.native is not None  # `built`
    with pytest.raises(TypeError):
        pick.native.pair_voice(
            events, pick.MAX_STAY_SECONDS, totals.voice_guild, totals.voice, totals.voice_stays,
            dict,
        )  # fmt: skip
    assert same(totals, ActivityTotals())


def test_odd_sessions_are_left_to_python_with_nothing_counted():
    events = [(BASE, True, "Linux"), (1_700_000_005, False, "Linux")]  # an int instant
    totals = ActivityTotals()
    assert pick.native is not None  # `built`
    with pytest.raises(TypeError):
        pick.native.pair_sessions(
            events, pick.MAX_STAY_SECONDS, totals.session_starts, totals.session_minutes,
            totals.session_spans,
        )  # fmt: skip
    assert same(totals, ActivityTotals())
    in_c, in_python = both(pick._pair_sessions, pair_sessions_py, events)  # the Python loop
    assert same(in_c, in_python) and in_c.session_spans == [(BASE, 1_700_000_005, 5.0, "Linux")]
