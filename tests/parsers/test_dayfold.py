"""The per-day fold of messages in C (`_dayfold.c`) gives what its Python reference gives
(`daily.fold_hours`, `daily.merge_days`, `series.python_gaps`) on any input, and hands it what
it does not take (numbers over 64 bits, anything but plain ints, days out of order)."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.aggregate import daily
from parsers.aggregate.daily import BANDS, DailyMessages, daily_messages, merge_daily
from parsers.aggregate.native import dayfold
from parsers.aggregate.series import python_gaps, sparse_gaps

pytestmark = pytest.mark.skipif(dayfold is None, reason="the C fold is not built")

END = 20_000  # a day in 2024
# hours from well before the oldest band to after the end day (left out), a few negative ones
HOURS = st.integers(min_value=-48, max_value=(END + 3) * 24)
COUNTS = st.integers(min_value=0, max_value=1_000)


def counters(max_size: int = 60):
    return st.dictionaries(
        st.one_of(HOURS, st.integers(min_value=(END - 400) * 24, max_value=(END + 1) * 24)),
        COUNTS,
        max_size=max_size,
    ).map(Counter)


@settings(max_examples=300, deadline=None)
@given(counters(), st.integers(min_value=END - 2, max_value=END + 2))
def test_the_c_fold_gives_the_python_fold(hours, end):
    assert daily_messages(hours, end) == daily.fold_hours(hours, end)


@settings(max_examples=200, deadline=None)
@given(st.lists(counters(30), min_size=2, max_size=6))
def test_the_c_merge_gives_the_python_merge(hours):
    dailies = [daily_messages(counter, END) for counter in hours]
    merged = merge_daily(dailies)
    reference = daily._from_days(
        daily.merge_days(dailies), merged.hours_to_band, merged.weekdays_to_band
    )
    assert merged == reference
    for slot in range(24 * BANDS):
        assert merged.hours_to_band[slot] == sum(one.hours_to_band[slot] for one in dailies)


def test_numbers_over_64_bits_take_the_python_loop():
    huge = Counter({END * 24: 1 << 70, (END - 1) * 24 + 5: 2, -(1 << 80): 3})
    folded = daily_messages(huge, END)
    assert folded == daily.fold_hours(huge, END)
    assert folded.counts[-1] == 1 << 70
    other = daily_messages(Counter({END * 24: 1}), END)
    assert merge_daily([folded, other]).counts[-1] == (1 << 70) + 1


def test_sums_over_64_bits_take_the_python_loop():
    # each count fits in 64 bits, their sums (an hour's, a day's, a band row's) do not
    big = (1 << 63) - 1
    hours = Counter({END * 24: big, END * 24 + 1: big, (END - 1) * 24: big})
    folded = daily_messages(hours, END)
    assert folded == daily.fold_hours(hours, END)
    assert folded.counts == [big, 2 * big]
    assert folded.hours_to_band[-24] == 2 * big  # the lifetime's midnight
    merged = merge_daily([folded, daily_messages(Counter({END * 24: big}), END)])
    assert merged.counts[-1] == 3 * big
    with pytest.raises(OverflowError):
        dayfold.merge_days([([END], [big]), ([END], [big])])


def test_each_row_sums_the_bands_up_to_it():
    # one message a day at 10:00 for 400 days before the end day: 28 of them in l4w, 30 in
    # l1m, 365 in ly, 401 in all
    hours = Counter({(END - age) * 24 + 10: 1 for age in range(401)})
    folded = daily_messages(hours, END)
    assert [folded.hours_to_band[band * 24 + 10] for band in range(BANDS)] == [28, 30, 365, 401]
    assert [sum(folded.weekdays_to_band[band * 7 : band * 7 + 7]) for band in range(BANDS)] == [
        28, 30, 365, 401,
    ]  # fmt: skip
    assert folded == daily.fold_hours(hours, END)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=30).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(-(1 << 59), 1 << 59), min_size=width, max_size=width),
            min_size=1,
            max_size=8,
        )
    )
)
def test_the_c_column_sums_give_the_python_sums(rows):
    assert dayfold.column_sums(rows) == daily.column_sums(rows)


def test_column_sums_over_64_bits_or_ragged_take_the_python_loop():
    big = (1 << 63) - 1
    with pytest.raises(OverflowError):
        dayfold.column_sums([[big, 1], [big, 1]])
    assert daily._column_sums([[big, 1], [big, 1]]) == [2 * big, 2]
    with pytest.raises(TypeError):
        dayfold.column_sums([[1, 2], [3]])
    with pytest.raises(ValueError):  # the Python loop refuses them too (zip strict)
        daily._column_sums([[1, 2], [3]])


def test_a_merge_of_no_channel_is_empty():
    empty = merge_daily([])
    assert empty == DailyMessages([], [], [0] * (24 * BANDS), [0] * (7 * BANDS))


def test_bad_arguments_are_refused_not_misread():
    with pytest.raises(TypeError):
        dayfold.fold_hours({1.5: 1}, END, daily._BAND_TABLE, BANDS)
    with pytest.raises(TypeError):
        dayfold.merge_days([([1, 2], [1])])
    with pytest.raises(OverflowError):
        dayfold.fold_hours({}, 1 << 62, daily._BAND_TABLE, BANDS)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=END - 3000, max_value=END), unique=True).map(sorted),
    st.integers(min_value=0, max_value=5),
)
def test_the_c_gaps_give_the_python_gaps(active, before):
    origin = (active[0] if active else END) - before
    values = [float(day % 7) / 10 for day in active]
    assert sparse_gaps(active, values, origin) == python_gaps(active, values, origin)
    assert dayfold.sparse_gaps(active, values, origin) == python_gaps(active, values, origin)


@pytest.mark.parametrize(
    ("active", "origin"),
    [([5, 3], 0), ([3], 5), ([1.0, 2.0], 0), ([1 << 70], 0), ([True, 2], 0)],
    ids=["descending", "before-origin", "floats", "huge", "int-subclass"],
)
def test_days_the_c_gaps_do_not_take_get_the_python_gaps(active, origin):
    values = list(range(len(active)))
    with pytest.raises((OverflowError, TypeError)):
        dayfold.sparse_gaps(active, values, origin)
    assert sparse_gaps(active, values, origin) == python_gaps(active, values, origin)
