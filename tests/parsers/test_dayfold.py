"""The per-day fold of messages in C (`_dayfold.c`) gives what its Python reference gives
(`daily.fold_hours`, `daily.merge_days`, `series.python_gaps`, `periods.python_message_blocks`)
on any input, and hands it what
it does not take (numbers over 64 bits, anything but plain ints, days out of order)."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.aggregate import daily
from parsers.aggregate.daily import BAND_AGES, BANDS, DailyMessages, daily_messages, merge_daily
from parsers.aggregate.native import dayfold
from parsers.aggregate.periods import (
    Period,
    entity_lifetime,
    make_periods,
    message_blocks,
    python_message_blocks,
)
from parsers.aggregate.series import SPARSE_BELOW, python_gaps, sparse_gaps

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


STARTS = st.lists(
    st.one_of(st.none(), st.integers(min_value=END - 400, max_value=END + 2)), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(counters(), STARTS)
def test_the_c_totals_give_the_python_totals(hours, starts):
    folded = daily_messages(hours, END)
    totals = dayfold.totals_since(folded.days, folded.counts, starts)
    assert totals == [folded.total_since(start) for start in starts]
    assert folded.totals_since(starts) == totals


def test_totals_by_hand_and_what_the_c_totals_do_not_take():
    days, counts = [END - 40, END - 3, END], [5, 2, 1]
    assert dayfold.totals_since(days, counts, [END, END - 3, END - 29, None, END + 1]) == [
        1, 3, 3, 0, 0
    ]  # fmt: skip
    refused = [
        ([END, END - 1], [1, 1]),  # descending
        ([END, END], [1, 1]),  # a day twice
        ([END - 1, END], [(1 << 63) - 1, 1]),  # a sum over 64 bits
        ([END], [1.0]),  # a float count
        ([END], [True]),  # an int subclass
    ]
    for days, counts in refused:
        with pytest.raises((OverflowError, TypeError)):
            dayfold.totals_since(days, counts, [END - 5])
    big = DailyMessages([END - 1, END], [(1 << 63) - 1, 1], [], [])
    assert big.totals_since([END - 1, END]) == [1 << 63, 1]  # the Python loop took it
    with pytest.raises(TypeError):
        dayfold.totals_since([END], [1, 2], [END])
    with pytest.raises(TypeError):
        dayfold.totals_since([END], [1], [END] * 17)


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


def json_of(blocks) -> str:
    """The blocks written out: types count (an int 0 is not a float 0.0), and so does key
    order (what orjson stores follows both)."""
    return repr(blocks)


def periods_of(end: int | None, first: int | None, own_first: int | None) -> dict[str, Period]:
    """An entity's periods as `entity_periods` makes them: the package's, its own lifetime."""
    periods = make_periods(end, first)
    periods["lifetime"] = entity_lifetime(periods["lifetime"].end, own_first)
    return periods


@settings(max_examples=400, deadline=None)
@given(
    counters(),
    st.one_of(st.none(), st.integers(min_value=END - 2, max_value=END + 2)),
    st.one_of(st.none(), st.integers(min_value=END - 4000, max_value=END + 5)),
    st.booleans(),
)
def test_the_c_message_blocks_give_the_python_blocks(hours, end, first, sparse):
    folded = daily_messages(hours, END if end is None else end)
    own_first = folded.days[0] if folded.days else first
    periods = periods_of(end, first, own_first)
    expected = python_message_blocks(folded, periods, sparse)
    assert json_of(message_blocks(folded, periods, sparse)) == json_of(expected)
    assert json_of(dayfold.message_blocks(*native_arguments(folded, periods, sparse))) == (
        json_of(expected)
    )


def native_arguments(folded: DailyMessages, periods: dict, sparse: bool = True) -> tuple:
    return (
        folded.days,
        folded.counts,
        folded.hours_to_band,
        folded.weekdays_to_band,
        periods,
        BAND_AGES,
        SPARSE_BELOW,
        sparse,
    )


def test_message_blocks_of_every_shape_of_series():
    """Dense and sparse series, a period without active days, a period without days, averages
    that round (2/3) and that are whole."""
    folded = DailyMessages(
        [END - 400, END - 20, END - 1, END],
        [2, 1, 1, 2],
        list(range(24 * BANDS)),
        list(range(7 * BANDS)),
    )
    periods = periods_of(END, END - 500, END - 400)
    periods["none"] = Period("none", None, None)
    periods["quiet"] = Period("l4w", END - 27, END - 27 + 27)  # a band's length
    blocks = dayfold.message_blocks(*native_arguments(folded, periods))
    assert json_of(blocks) == json_of(python_message_blocks(folded, periods))
    assert blocks["l4w"]["per_day"] == {"days": 28, "zero": 0, "gaps": [7, 1, 18, 1, 0, 2]}
    assert blocks["l4w"]["average_per_active_day"] == 1.33  # 4 / 3, rounded
    assert blocks["lifetime"]["average_per_active_day"] == 1.5
    assert blocks["none"] == {
        "total": 0,
        "per_day": [],
        "per_hour": [0] * 24,
        "per_weekday": [0] * 7,
        "active_days": 0,
        "average_per_active_day": 0,
    }
    dense = dayfold.message_blocks(*native_arguments(folded, periods, False))
    assert dense["l4w"]["per_day"] == [0] * 7 + [1] + [0] * 18 + [1, 2]
    assert dense["l4w"]["per_hour"] == list(range(24))
    assert dense["ly"]["per_weekday"] == list(range(14, 21))  # the third band's row


# Days and counts the C blocks refuse; the Python blocks decide what they make of them.
REFUSED = {
    "unordered": ([END, END - 1], [1, 1]),
    "huge": ([END - 1, END], [1 << 70, 1]),  # a count over 64 bits
    "sum": ([END - 1, END], [(1 << 62), (1 << 62)]),  # a sum over 64 bits
    "inexact-average": ([END - 1, END], [1 << 60, 1 << 60]),  # too big for an exact average
    "floats": ([END - 1, END], [1.0, 2]),
    "bool": ([END - 1, END], [True, 2]),  # an int subclass
    "ragged": ([END - 1, END], [1]),  # fewer counts than days
}


@pytest.mark.parametrize(("days", "counts"), list(REFUSED.values()), ids=list(REFUSED))
def test_days_the_c_blocks_do_not_take_get_the_python_blocks(days, counts):
    folded = DailyMessages(days, counts, [0] * (24 * BANDS), [0] * (7 * BANDS))
    periods = periods_of(END, END - 10, END - 10)
    with pytest.raises((OverflowError, TypeError)):
        dayfold.message_blocks(*native_arguments(folded, periods))
    try:
        expected = json_of(python_message_blocks(folded, periods))
    except (TypeError, ValueError) as error:  # what Python makes of days it cannot hold
        with pytest.raises(type(error)):
            message_blocks(folded, periods)
    else:
        assert json_of(message_blocks(folded, periods)) == expected


def test_a_day_after_the_end_in_a_zero_filled_series_is_python_s_to_refuse():
    folded = DailyMessages([END - 1, END + 5], [1, 1], [0] * (24 * BANDS), [0] * (7 * BANDS))
    periods = periods_of(END, END - 10, END - 10)
    with pytest.raises(OverflowError):
        dayfold.message_blocks(*native_arguments(folded, periods, False))
    with pytest.raises(IndexError):
        message_blocks(folded, periods, False)


def test_a_period_of_another_length_must_hold_every_day_in_c_too():
    folded = DailyMessages([END - 5, END], [1, 1], [0] * (24 * BANDS), [0] * (7 * BANDS))
    periods = {"short": Period("short", END - 2, END)}
    with pytest.raises(ValueError, match="must hold every day"):
        python_message_blocks(folded, periods)
    with pytest.raises(ValueError, match="must hold every day"):
        dayfold.message_blocks(*native_arguments(folded, periods))


def test_a_series_with_one_active_day_in_four_is_stored_zero_filled_in_c_too():
    """SPARSE_BELOW's boundary: 7 active days of 28 are stored as the list, 6 as gaps."""
    for active, stored in ((7, list), (6, dict)):
        days = list(range(END - active + 1, END + 1))
        folded = DailyMessages(days, [1] * active, [0] * (24 * BANDS), [0] * (7 * BANDS))
        periods = periods_of(END, END - 30, END - 30)
        blocks = dayfold.message_blocks(*native_arguments(folded, periods))
        assert type(blocks["l4w"]["per_day"]) is stored
        assert json_of(blocks) == json_of(python_message_blocks(folded, periods))


def test_a_period_that_ends_before_it_starts_is_python_s_to_read():
    folded = DailyMessages([], [], [0] * (24 * BANDS), [0] * (7 * BANDS))
    periods = {"lifetime": Period("lifetime", END, END - 3)}
    with pytest.raises(OverflowError):
        dayfold.message_blocks(*native_arguments(folded, periods))
    expected = python_message_blocks(folded, periods)
    assert json_of(message_blocks(folded, periods)) == json_of(expected)
