"""An entity's `periods` object written as JSON in C (`_dayfold.periods_json`, through
`per_entity.EntityPeriods`) is the text orjson writes for its dicts (`EntityPeriods.as_dicts`,
the reference) on any input, and what the C loop does not take goes to the dicts."""

from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.aggregate import native
from parsers.aggregate.daily import BAND_AGES, BANDS, DailyMessages, daily_messages
from parsers.aggregate.native import dayfold
from parsers.aggregate.periods import Period, make_periods, python_message_blocks
from parsers.aggregate.series import SPARSE_BELOW
from parsers.package import analyze_package
from parsers.views.per_entity import EntityPeriods
from samples import SampleSpec, generate_package
from tests.parsers.test_dayfold import END, REFUSED, counters
from tests.parsers.zipbuild import view_texts

pytestmark = pytest.mark.skipif(dayfold is None, reason="the C fold is not built")

VOICE_DAYS = st.integers(min_value=END - 800, max_value=END)
MINUTES = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda value: value or 0.0)


def text_and_reference(daily: DailyMessages, voice: Counter, writer: EntityPeriods):
    """(what `of` gives, encoded; the reference dicts, encoded; whether C wrote it)."""
    written = writer.of(daily, voice)
    reference = writer.as_dicts(daily, voice, writer.own(daily, voice))
    document = {"periods": written}
    return (
        orjson.dumps(document),
        orjson.dumps({"periods": reference}),
        not isinstance(written, dict),
    )


@settings(max_examples=400, deadline=None)
@given(
    counters(),
    st.dictionaries(VOICE_DAYS, MINUTES, max_size=12).map(Counter),
    st.one_of(st.none(), st.integers(min_value=END - 2, max_value=END + 2)),
    st.one_of(st.none(), st.integers(min_value=END - 4000, max_value=END + 5)),
)
def test_the_c_text_is_the_text_of_the_dicts(hours, voice, end, first):
    periods = make_periods(end, first)
    daily = daily_messages(hours, END if end is None else end)
    text, reference, in_c = text_and_reference(daily, voice, EntityPeriods(periods))
    assert text == reference
    assert in_c  # every count here fits: the C loop wrote it


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=1 << 53),
    st.booleans(),
)
def test_averages_are_written_as_orjson_writes_them(active, total, sparse):
    """Whole and rounded quotients, ties, and totals up to 2**53; a quotient not whole of more
    than 15 digits is refused (the dicts write it)."""
    counts = [max(total - active + 1, 1)] + [1] * (active - 1)
    daily = DailyMessages(list(range(END - active + 1, END + 1)), counts, [0] * 96, [0] * 28)
    periods = make_periods(END, END - 100)
    openings = [orjson.dumps(name) + b':{"messages":' for name in periods]
    arguments = (*fields(daily), periods, BAND_AGES, SPARSE_BELOW, sparse, openings)
    expected = {name: {"messages": block} for name, block in blocks(daily, periods, sparse)}
    whole = sum(counts) % active == 0  # written at once, whatever its size
    if not whole and sum(counts) / active >= 1e13:
        with pytest.raises(OverflowError):
            dayfold.periods_json(*arguments, [b"}"] * 4)
    else:
        assert dayfold.periods_json(*arguments, [b"}"] * 4) == orjson.dumps(expected)


def fields(daily: DailyMessages) -> tuple:
    return daily.days, daily.counts, daily.hours_to_band, daily.weekdays_to_band


def blocks(daily: DailyMessages, periods: dict, sparse: bool):
    return python_message_blocks(daily, periods, sparse).items()


def test_rounding_ties_and_near_ties_are_round_s():
    """1/8 is a tie (to even: 0.12), 1/200 is just above one in binary (0.01), 2/3 rounds up,
    whole quotients; zero-filled and sparse series, and a period without days."""
    for total, active in ((1, 8), (1, 200), (2, 3), (5, 2), (7, 7), (3, 8)):
        days = list(range(END - active + 1, END + 1))
        daily = DailyMessages(days, [total] + [0] * (active - 1), [0] * 96, [0] * 28)
        periods = {"none": Period("none", None, None), "all": Period("all", END - active, END)}
        for sparse in (True, False):
            openings = [orjson.dumps(name) + b":" for name in periods]
            written = dayfold.periods_json(
                *fields(daily), periods, BAND_AGES, SPARSE_BELOW, sparse, openings, [b""] * 2
            )
            assert written == orjson.dumps(dict(blocks(daily, periods, sparse)))
            assert orjson.loads(written)["all"]["average_per_active_day"] == round(
                total / active, 2
            )


# What the C blocks refuse, and an average of more than 15 digits, not whole.
REFUSED_TEXT = {**REFUSED, "long-average": ([END - 1, END], [10**13, 10**13 + 1])}


@pytest.mark.parametrize(("days", "counts"), list(REFUSED_TEXT.values()), ids=list(REFUSED_TEXT))
def test_what_the_c_text_does_not_take_gets_the_dicts(days, counts):
    daily = DailyMessages(days, counts, [0] * (24 * BANDS), [0] * (7 * BANDS))
    writer = EntityPeriods(make_periods(END, END - 10))
    own = writer.own(daily, Counter())
    openings = [b'"x":{"messages":'] * 4
    with pytest.raises((OverflowError, TypeError)):
        dayfold.periods_json(
            *fields(daily), own, BAND_AGES, SPARSE_BELOW, True, openings, [b"}"] * 4
        )
    try:
        reference = writer.as_dicts(daily, Counter(), own)
    except (TypeError, ValueError) as error:  # what Python makes of days it cannot hold
        with pytest.raises(type(error)):
            writer.of(daily, Counter())
        return
    written = writer.of(daily, Counter())
    assert isinstance(written, dict)
    assert written == reference


def test_hour_rows_of_anything_but_plain_ints_get_the_dicts():
    hours = [0] * (24 * BANDS)
    hours[30] = 2.5
    daily = DailyMessages([END], [3], hours, [0] * (7 * BANDS))
    writer = EntityPeriods(make_periods(END, END - 40))
    written = writer.of(daily, Counter())
    assert isinstance(written, dict)
    assert written["l1m"]["messages"]["per_hour"][6] == 2.5


@pytest.mark.parametrize(
    ("openings", "closings"),
    [([b"a"] * 3, [b""] * 4), ([b""] * 4, [b""] * 5), (["a"] * 4, [b""] * 4)],
    ids=["few-openings", "many-closings", "text"],
)
def test_an_opening_and_a_closing_of_bytes_per_period(openings, closings):
    daily = DailyMessages([END], [1], [0] * 96, [0] * 28)
    with pytest.raises(TypeError):
        dayfold.periods_json(
            *fields(daily), make_periods(END, END), BAND_AGES, 4, True, openings, closings
        )


def test_without_the_extension_the_dicts_are_built(monkeypatch):
    daily = daily_messages(Counter({END * 24 + 5: 3, (END - 40) * 24: 1}), END)
    voice = Counter({END - 2: 12.25})
    writer = EntityPeriods(make_periods(END, END - 100))
    in_c = orjson.dumps(writer.of(daily, voice))
    monkeypatch.setattr(native, "dayfold", None)
    written = writer.of(daily, voice)
    assert isinstance(written, dict)
    assert orjson.dumps(written) == in_c
    assert written["lifetime"]["voice"]["minutes"] == 12.2  # round(12.25, 1): to even


def test_one_active_day_in_four_is_written_zero_filled():
    """SPARSE_BELOW's boundary: 7 active days of 28 are written as the list, 6 as gaps."""
    for active, opening in ((7, b'"per_day":[0,'), (6, b'"per_day":{"days":28,')):
        days = list(range(END - active + 1, END + 1))
        daily = DailyMessages(days, [1] * active, [0] * 96, [0] * 28)
        writer = EntityPeriods(make_periods(END, END - 30))
        text, reference, in_c = text_and_reference(daily, Counter(), writer)
        assert in_c
        assert text == reference
        l4w = orjson.loads(text)["periods"]["l4w"]["messages"]
        assert opening in orjson.dumps(l4w)


SHAPES = {
    "long-A": SampleSpec(layout="A", messages=900, events=900, seed=11, days=3000),
    "voice-B": SampleSpec(
        layout="B", messages=400, events=2500, seed=12, days=40, voice_channels=30, voice_weight=30
    ),
    "many-C": SampleSpec(layout="C", messages=1200, events=600, seed=13, channels=300, dms=80),
    "keys-D": SampleSpec(layout="D", messages=700, events=1200, seed=15, key_order="per_line"),
    "one-day": SampleSpec(layout="D", messages=1, events=60, seed=16, days=1),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_package_s_views_are_the_same_text_either_way(tmp_path, monkeypatch, shape):
    """Every view of generated packages of several shapes: the same JSON text whether the
    entities' periods are written in C or built as dicts."""
    path = tmp_path / "package.zip"
    generate_package(path, SHAPES[shape])
    in_c = view_texts(analyze_package(path, package_id="0" * 32).views())
    monkeypatch.setattr(native, "dayfold", None)
    as_dicts = view_texts(analyze_package(path, package_id="0" * 32).views())
    assert in_c == as_dicts
    assert any(name.startswith("channel:") for name in in_c)
