"""messages.csv and messages.json readers: edge cases, bad lines counted, empty contents counted."""

import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers.instants as instants
import parsers.sources.messages as messages_module
from parsers.instants import fresh_caches
from parsers.sources.messages import (
    MessageSink,
    number_hours_py,
    plain_stamps_py,
    read_messages_csv,
    read_messages_json,
)
from parsers.streams import Skipped
from tests.parsers.zipbuild import DM, GENERAL, analyze, package

HOUR = 3600


def read(reader, data: bytes, max_line: int = 1 << 20):
    counts: Counter[int] = Counter()
    skipped = Skipped()
    sink = MessageSink(counts, skipped)
    reader(io.BufferedReader(io.BytesIO(data)), sink, max_line)
    return counts, skipped.by_reason, sink


def hour_of(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text + "+00:00").timestamp()) // HOUR


def test_csv_crlf_multiline_doubled_quotes_and_fractions():
    data = (
        b"ID,Timestamp,Contents,Attachments\r\n"
        b'1,2024-01-02 03:04:05.123456+00:00,"line one\r\nline ""two""\nthree",\r\n'
        b"2,2024-01-02 03:59:59+00:00,,\r\n"
        b'3,2024-01-03 00:00:00+00:00,"a, b",https://x/y.png\r\n'
    )
    counts, skipped, sink = read(read_messages_csv, data)
    assert counts == {hour_of("2024-01-02 03:00:00"): 2, hour_of("2024-01-03 00:00:00"): 1}
    assert sink.records == 3
    assert not skipped


def test_csv_bad_rows_are_skipped_and_counted():
    data = (
        b"ID,Timestamp,Contents,Attachments\r\n"
        b"1,not a date,x,\r\n"
        b"2,2024-01-02 03:04:05+00:00,\xff\xfe broken,\r\n"
        b"3,2024-01-02 03:04:05+00:00,ok,\r\n"
        b"4\r\n"
    )
    counts, skipped, sink = read(read_messages_csv, data)
    assert sum(counts.values()) == 1
    assert skipped == {"invalid_timestamp": 1, "invalid_utf8": 1, "invalid_row": 1}
    assert sink.records == 4


def test_json_big_int_ids_empty_contents_and_oddities():
    data = (
        b"[\n"
        b'{"ID": 1234567890123456789012345, "Timestamp": "2024-01-02 03:04:05", "Contents": ""},\n'
        b'{"ID": 9007199254740993, "Timestamp": "2024-01-02 04:00:00", "Contents": "x"},\n'
        b"not json at all,\n"
        b'{"ID": 5, "Contents": "no timestamp"},\n'
        b'{"ID": 6, "Timestamp": "2024-01-02 04:30:00"}, {"Timestamp": "2024-01-02 04:31:00"}\n'
        b"]"
    )
    counts, skipped, _ = read(read_messages_json, data)
    assert counts == {hour_of("2024-01-02 03:00:00"): 1, hour_of("2024-01-02 04:00:00"): 3}
    assert skipped == {"invalid_json": 1, "no_timestamp": 1}


def test_json_pretty_printed_and_minified_arrays():
    pretty = (
        b'[\n  {\n    "ID": 1,\n    "Timestamp": "2024-01-02 03:04:05",\n'
        b'    "Contents": "}"\n  },\n'
        b'  {\n    "ID": 2,\n    "Timestamp": "2024-01-02 05:00:00"\n  }\n]\n'
    )
    counts, skipped, _ = read(read_messages_json, pretty)
    assert sum(counts.values()) == 2 and not skipped
    minified = (
        b'[{"ID":1,"Timestamp":"2024-01-02 03:04:05"},{"ID":2,"Timestamp":"2024-01-02 03:05:05"}]'
    )
    counts, skipped, _ = read(read_messages_json, minified)
    assert counts == {hour_of("2024-01-02 03:00:00"): 2} and not skipped


def test_json_broken_object_then_good_lines():
    data = (
        b'[\n{"ID": 1, "Timestamp": "2024-01-02 03:04:05",\n'
        b'{"ID": 2, "Timestamp": "2024-01-02 03:04:06"}\n]'
    )
    counts, skipped, _ = read(read_messages_json, data)
    assert sum(counts.values()) == 1
    assert skipped == {"invalid_json": 1}


def test_json_too_long_line_and_invalid_utf8_are_counted():
    long_line = (
        b'{"ID": 1, "Timestamp": "2024-01-02 03:04:05", "Contents": "' + b"x" * 500 + b'"},\n'
    )
    bad = b'{"ID": 2, "Timestamp": "2024-01-02 03:04:05", "Contents": "\xff"},\n'
    good = b'{"ID": 3, "Timestamp": "2024-01-02 03:04:05"}\n'
    counts, skipped, _ = read(
        read_messages_json, b"[\n" + long_line + bad + good + b"]", max_line=200
    )
    assert sum(counts.values()) == 1
    assert skipped == {"too_long": 1, "invalid_utf8": 1}


def test_empty_array_and_missing_messages_file(tmp_path):
    files = package("C", messages={GENERAL: [("1", "2024-05-01 12:00:00", "")]})
    files = {name: content for name, content in files.items() if f"c{DM}/messages" not in name}
    _, views = analyze(tmp_path, files)
    assert views["about"]["read"]["files"] == {
        "messages": 2,
        "channels": 3,
        "activity": 1,
        "account": 1,
        "servers": 2,
    }
    assert views["overview"]["messages"] == 1
    assert views["about"]["read"]["lines"]["messages"] == 1


def test_bad_line_in_package_is_counted_not_fatal(tmp_path):
    files = package("C", messages={GENERAL: [("1", "2024-05-01 12:00:00", "a")]})
    files[f"messages/c{DM}/messages.json"] = (
        b'[\n{"ID": 2, "Timestamp": "2024-05-01 11:00:00"},\n{oops}\n]'
    )
    _, views = analyze(tmp_path, files)
    assert views["overview"]["messages"] == 2
    assert views["about"]["read"]["skipped"] == {"total": 1, "by_reason": {"invalid_json": 1}}


def test_csv_overlong_line_is_dropped_without_holding_it():
    data = (
        b"ID,Timestamp,Contents,Attachments\r\n"
        b"1,2024-01-02 03:04:05+00:00," + b"y" * 5000 + b",\r\n"
        b"2,2024-01-02 03:04:05+00:00,ok,\r\n"
    )
    counts, skipped, sink = read(read_messages_csv, data, max_line=1000)
    assert sum(counts.values()) == 1
    assert skipped == {"too_long": 1}
    assert sink.records == 2


def sink_state(sink: MessageSink) -> tuple:
    """What a sink has counted, once finished."""
    sink.finish()
    return dict(sink.counts), sink.records, sink.skipped.as_dict(), sink.first, sink.last


@pytest.mark.parametrize(
    "stamps",
    [
        # a new hour whose first stamp is not an instant: skipped, the later ones counted
        ["2024-03-01 10:61:00", "2024-03-01 10:15:00", "2024-03-01 10:77:00"],
        # every stamp of the new hour fine: counted in bulk
        ["2024-03-01 11:00:00", "2024-03-01 11:59:60", "2023-12-31 23:59:59"],
        # an impossible date, an hour 24, a date before Discord
        ["2024-02-30 10:00:00", "2024-03-01 24:00:00", "2014-01-01 10:00:00"],
        # digits that are not ASCII in the minutes
        ["2024-03-01 12:\u0665\u0660:00", "2024-03-01 12:10:00"],
        # ... in the hour, the day, the year; a letter in the hour
        ["2024-03-01 1\u0663:10:00", "2024-03-0\u0661 13:10:00", "\u06602024-3-01 13:10:00"],
        ["2024-03-01 1x:10:00", "2024-03-01 13:10:00", "2024-03-01 13:10:00"],
    ],
)
def test_counting_in_bulk_equals_counting_one_by_one(stamps):
    with fresh_caches():
        one_by_one = MessageSink(Counter(), Skipped())
        for stamp in stamps:
            one_by_one.add_object({"Timestamp": stamp})
        expected = sink_state(one_by_one)
    with fresh_caches():
        bulk = MessageSink(Counter(), Skipped())
        bulk.add_objects([{"Timestamp": stamp} for stamp in stamps])
        assert sink_state(bulk) == expected


# stamps made of a few usual and unusual pieces, so that hours repeat within a batch
DATES = st.sampled_from(["2024-03-01", "2024-02-30", "2014-01-01", "2024-0\u0663-01", "2024-3-01 "])
HOURS = st.sampled_from(["10", "23", "24", "1\u0663", "1x", " 9"])
CLOCKS = st.sampled_from([":00:00", ":59:59", ":59:60", ":61:00", ":\u0665\u0660:00", ":05:5"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(lambda d, h, c: f"{d} {h}{c}", DATES, HOURS, CLOCKS), max_size=12))
def test_any_batch_counts_in_bulk_as_one_by_one(stamps):
    test_counting_in_bulk_equals_counting_one_by_one(stamps)


def c_pass():
    """The C pass; the checkout must have built it (`make venv`)."""
    try:
        from parsers.sources._stamps import plain_stamps
    except ImportError:  # pragma: no cover - make venv builds it
        pytest.fail("parsers/sources/_stamps.c is not built: run `make venv`")
    return plain_stamps


def c_numbering():
    """The C numbering of new hours; the checkout must have built it (`make venv`)."""
    try:
        from parsers.sources._stamps import number_hours
    except ImportError:  # pragma: no cover - make venv builds it
        pytest.fail("parsers/sources/_stamps.c is not built: run `make venv`")
    return number_hours


# hour prefixes of every kind: usual, impossible dates, hour 24, before Discord, the "T" spelling,
# digits of other scripts, a leap day, wrong lengths (a str subclass: the test below)
PREFIXES = st.one_of(
    st.builds(lambda d, h: f"{d} {h}", DATES, HOURS),
    st.sampled_from(
        [
            "2024-02-29 23",
            "2023-02-29 10",
            "2015-01-01 00",
            "2014-12-31 23",
            "2024-03-01T10",
            "2024-03-01 10 ",
            "2024-03-01",
            "\u0662024-03-01 10",
            "0000-01-01 00",
            "9999-12-31 23",
        ]
    ),
    st.builds(
        lambda y, m, d, h: f"{y:04d}-{m:02d}-{d:02d} {h:02d}",
        st.integers(2014, 2100),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
    ),
    st.text(max_size=14),
)


def true_start(prefix: str) -> int | None:
    """hour_start's answer, from empty caches (what HOUR_STARTS may hold for that prefix)."""
    with fresh_caches():
        return instants.hour_start(prefix)


@settings(max_examples=500, deadline=None)
@given(st.sets(PREFIXES, max_size=12), st.data())
def test_the_c_numbering_of_new_hours_is_its_python_twin(fresh, data):
    """C numbers what it reads and leaves the rest to Python: together they do what Python does
    alone, to the hour numbers and the remembered starts, caps included (small enough to be
    reached)."""
    known = data.draw(st.dictionaries(PREFIXES, st.integers(0, 10**6), max_size=4))
    cached = data.draw(st.sets(PREFIXES, max_size=4))
    starts = {prefix: start for prefix in cached if (start := true_start(prefix)) is not None}
    max_numbers, max_starts = data.draw(st.integers(0, 16)), data.draw(st.integers(1, 16))
    results = []
    for c_first in (True, False):
        with fresh_caches(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(instants, "MAX_CACHED_HOURS", max_starts)
            instants.HOUR_STARTS.update(starts)
            hour_numbers = dict(known)
            left = list(fresh)
            if c_first:
                left = c_numbering()(
                    fresh, hour_numbers, max_numbers, instants.HOUR_STARTS, max_starts
                )
                assert all(prefix in fresh for prefix in left)
            assert number_hours_py(left, hour_numbers, max_numbers) == []
            results.append((hour_numbers, dict(instants.HOUR_STARTS)))
    assert results[0] == results[1]


def test_the_c_numbering_numbers_plain_hours_and_leaves_the_rest():
    fresh = {
        "2024-02-29 23",
        "2024-03-01T10",
        "2024-02-30 10",
        "\u0662024-03-01 10",
        "2014-12-31 23",
        "2024-03-01 24",
        Text("2024-03-01 10"),
    }
    with fresh_caches():
        hour_numbers: dict[str, int] = {}
        left = c_numbering()(fresh, hour_numbers, 10, instants.HOUR_STARTS, 10)
        assert hour_numbers == {"2024-02-29 23": 1709247600 // 3600}
        assert instants.HOUR_STARTS == {"2024-02-29 23": 1709247600}
        assert sorted(left) == sorted(fresh - {"2024-02-29 23"})
        assert [type(prefix) for prefix in left].count(Text) == 1  # a subclass: Python decides
    with fresh_caches():  # the numbers' cap: the start is remembered, the hour not numbered
        hour_numbers = {"2020-01-01 00": 1}
        assert c_numbering()({"2024-02-29 23"}, hour_numbers, 1, instants.HOUR_STARTS, 10) == []
        assert hour_numbers == {"2020-01-01 00": 1}
        assert instants.HOUR_STARTS == {"2024-02-29 23": 1709247600}
    with fresh_caches():  # the starts' cap: emptied first, as instants._remember_hour does
        instants.HOUR_STARTS.update({"2020-01-01 00": 0, "2020-01-01 01": 3600})
        c_numbering()({"2024-02-29 23"}, {}, 10, instants.HOUR_STARTS, 2)
        assert instants.HOUR_STARTS == {"2024-02-29 23": 1709247600}


@pytest.fixture(params=["c", "python"])
def twin(request, monkeypatch):
    """Each of the two passes over a chunk's stamps (and of the two numberings of its new
    hours), in turn, as the ones `MessageSink` uses."""
    if request.param == "python":
        monkeypatch.setattr(messages_module, "plain_stamps", plain_stamps_py)
        monkeypatch.setattr(messages_module, "number_hours", number_hours_py)
    else:
        assert messages_module.plain_stamps is c_pass(), "the C pass is the one in use"
        assert messages_module.number_hours is c_numbering(), "the C numbering is the one in use"
    return request.param


# the fixture's choice holds for every example: nothing to reset between them
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.builds(lambda d, h, c: f"{d} {h}{c}", DATES, HOURS, CLOCKS), max_size=12))
def test_either_pass_counts_in_bulk_as_one_by_one(twin, stamps):
    test_counting_in_bulk_equals_counting_one_by_one(stamps)


class Stamped(dict):
    """A dict subclass: `dict.get` reads it as a dict, as the C pass does."""


class Text(str):
    """A str subclass: not a plain stamp for either pass (`type(...) is str`)."""


STAMPS = st.one_of(
    st.builds(lambda d, h, c: f"{d} {h}{c}", DATES, HOURS, CLOCKS),
    st.text(max_size=22),
    st.sampled_from(["2024-03-01 10:00:00", "2024-03-01 10:00:00\u00e9", "2024-03-01T10:00:00"]),
    st.builds(lambda d, h, c: Text(f"{d} {h}{c}"), DATES, HOURS, CLOCKS),
    st.none(),
    st.integers(),
)
MESSAGES = st.one_of(
    st.builds(lambda stamp: {"Timestamp": stamp, "Contents": ""}, STAMPS),
    st.builds(lambda stamp: Stamped(Timestamp=stamp), STAMPS),
    st.just({"timestamp": "2024-03-01 10:00:00"}),
    st.sampled_from([None, "2024-03-01 10:00:00", ["Timestamp"]]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(MESSAGES, max_size=8), st.data())
def test_the_c_pass_over_stamps_is_its_python_twin(messages, data):
    stamps = [m.get("Timestamp") for m in messages if isinstance(m, dict)]
    prefixes = {stamp[:13] for stamp in stamps if isinstance(stamp, str)}
    known = data.draw(st.sets(st.sampled_from(sorted(prefixes)))) if prefixes else set()
    hour_numbers = dict.fromkeys(known, 1)
    c_plain_stamps = c_pass()
    assert c_plain_stamps(messages, hour_numbers) == plain_stamps_py(messages, hour_numbers)
    # all plain: the bulk path, both ways
    plain = [{"Timestamp": f"2024-03-0{i % 9 + 1} 1{i % 10}:0{i % 6}:5{i % 10}"} for i in range(20)]
    bulk = plain_stamps_py(plain, hour_numbers)
    assert bulk is not None and c_plain_stamps(plain, hour_numbers) == bulk


# Messages in runs of one hour, as a conversation writes them: the C pass takes the previous
# message's prefix again while the hour stays (its first 13 characters, in any digits).
RUN_HOURS = st.sampled_from(
    ["2024-03-01 10", "2024-03-01 11", "2024-0\u0663-01 10", "2024-03-01 1\u0663"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(RUN_HOURS, CLOCKS, st.integers(1, 4)), max_size=10), st.data())
def test_the_c_pass_over_runs_of_one_hour_is_its_python_twin(runs, data):
    messages = [{"Timestamp": hour + clock} for hour, clock, length in runs for _ in range(length)]
    prefixes = sorted({message["Timestamp"][:13] for message in messages})
    known = data.draw(st.sets(st.sampled_from(prefixes))) if prefixes else set()
    hour_numbers = dict.fromkeys(known, 1)
    assert c_pass()(messages, hour_numbers) == plain_stamps_py(messages, hour_numbers)


def test_the_c_pass_takes_only_lists():
    c_plain_stamps = c_pass()
    stamps = ({"Timestamp": "2024-03-01 10:00:00"},)
    assert c_plain_stamps(stamps, {}) is None and plain_stamps_py(stamps, {}) is None
    assert c_plain_stamps([], {}) is None and plain_stamps_py([], {}) is None


MEDDLING = """
from parsers.sources._stamps import plain_stamps


class Meddler(str):
    # compares equal to nothing but empties the list being read while it compares
    def __hash__(self):
        return hash("Timestamp")

    def __eq__(self, other):
        victims.clear()
        return False


victims = []
messages = [{Meddler("x"): 1, "Timestamp": "2024-03-01 10:00:00"} for _ in range(50)]
victims = messages
result = plain_stamps(messages, {})
stamp = "2024-03-01 10:00:00"
assert messages == [] and result == (["2024-03-01 10"], {"2024-03-01 10"}, stamp, stamp), result
print("ok")
"""


def test_a_key_that_empties_the_list_while_read_does_not_crash_the_c_pass():
    # under Python's debug allocator a message freed while still read is a crash, not luck
    env = {**os.environ, "PYTHONMALLOC": "debug", "PYTHONPATH": str(Path(__file__).parents[2])}
    ran = subprocess.run(
        [sys.executable, "-c", MEDDLING], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stderr


def test_a_stamp_of_digits_float_refuses_is_skipped_not_raised():
    counts, skipped, sink = read(read_messages_json, '[{"Timestamp": "\u00b2"}]'.encode())
    assert counts == {} and skipped == {"invalid_timestamp": 1} and sink.records == 1
