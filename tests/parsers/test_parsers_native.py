"""The C loop of the activity scanner and ISA-L inflating agree with the reference code they
replace (the period blocks: test_period_blocks.py)."""

import io
import mmap
import os
import pickle
import struct
import zipfile
import zlib
from collections import Counter
from datetime import datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isal import isal_zlib

import parsers.activity.scan as scan
import parsers.archive.inflater as inflater
from parsers.activity.rules import SourceTally
from parsers.instants import MIN_SECONDS, hour_start
from parsers.streams import Skipped
from tests.parsers.test_activity_paths import on_every_path
from tests.parsers.test_activity_paths import tally_with as tally_on_path
from tests.parsers.test_parsers_fast_paths import ACTIVITY, event
from tests.parsers.test_parsers_inflater import corrupt_zip, members_zip

VOICE = [
    event(
        "join_voice_channel", "2024-03-02T13:00:00.000Z", '"channel_id":"4"', '"guild_id":"9"'
    ).replace(b'"day"', b'"client_track_timestamp":"\\"2024-03-02T12:59:59.500Z\\"","day"'),
    event("leave_voice_channel", "2024-03-02T13:30:00.000Z", '"channel_id":"4"').replace(
        b'"day"', b'"client_track_timestamp":"\\"2024-03-02T13:29:59.900Z\\"","day"'
    ),
    event("join_voice_channel", "2024-03-02T13:00:00.000Z", '"channel_id":null').replace(
        b'"day"', b'"client_track_timestamp":"\\"2001-03-02T12:59:59.500Z\\"","day"'
    ),
    event("join_voice_channel", "2024-03-02T14:00:00.000Z", '"channel_id":"5"').replace(
        b'"day"', b'"client_track_timestamp":"\\"2024-13-02T12:59:59.500Z\\"","day"'
    ),
    event("leave_voice_channel", "2024-03-02T15:00:00.000Z", '"channel_id":"5"'),  # no track
]
LINES = (
    ACTIVITY
    + VOICE
    + [
        b'{"predicted_gender":"x"}',
        b'{"event_type":"app_ui_viewed","timestamp":"\\"2024-05-01T10:00:00.000Z\\""}',
        b'{"event_type":"send\\u005fmessage","timestamp":"\\"2024-05-01T10:00:00.000Z\\""}',
        b'{"event_type":"send_message',
        b"",
    ]
)


def reordered(line: bytes, shift: int) -> bytes:
    """The line with its keys rotated by `shift` (-1: event_type last), when it decodes."""
    try:
        items = list(orjson.loads(line).items())
    except orjson.JSONDecodeError:
        return line
    return orjson.dumps(dict(items[shift:] + items[:shift]))


# The same lines with event_type elsewhere (older exports): appended, so picks above stay valid.
LINES += [reordered(line, shift) for shift in (-1, 2) for line in ACTIVITY + VOICE]


def tally_with(loop: str, data: bytes, max_line: int = 1 << 20):
    """(tally, skipped, lines) of one reading path, from cold hour caches, sessions sorted."""
    state, skipped, lines = tally_on_path(loop, data, max_line)
    state["sessions"] = sorted(state["sessions"])
    return state, skipped, lines


def test_the_c_loop_is_built():
    assert scan._linescan is not None, "parsers/activity/_linescan.c is not built: run `make venv`"


def test_c_loop_python_loop_and_line_reader_agree_on_tricky_lines():
    data = b"\n".join(LINES * 3) + b"\n"
    native = tally_with("native", data)
    assert native == tally_with("python", data) == tally_with("exact", data)
    assert (1709384399.5, True, "4", "9") in native[0]["voice"]  # the track stamp's instant


MUTATIONS = [b"{", b"}", b"\t", b"\r", b"\\", b'"', b",", b" ", b"\n"]
MUTATIONS += [b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98\xad", b"\xed\xa0\x80"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(LINES) - 1), min_size=1, max_size=12),
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(MUTATIONS), st.booleans()), max_size=6
    ),
    max_line=st.sampled_from([60, 1 << 20]),
)
def test_c_loop_matches_the_python_loop_on_mangled_lines(picks, edits, max_line):
    data = bytearray(b"\n".join(LINES[pick] for pick in picks) + b"\n")
    for at, piece, replace in edits:
        at %= len(data)
        data[at : at + (len(piece) if replace else 0)] = piece
    data = bytes(data)
    native = tally_with("native", data, max_line)
    assert native == tally_with("python", data, max_line)


# Where a key may sit in a line: each is read by its last top-level occurrence (as orjson
# decodes it), never from inside a string or as the tail of a longer key.
KEY_PLACES = [
    (b'{"channel_id":"5","event_type":"add_reaction","emoji_name":"a",', "5"),  # first
    (b'{"event_type":"add_reaction","channel_id":"1","emoji_name":"a","channel_id":"2",', "2"),
    (b'{"event_type":"add_reaction","note":"\\",\\"channel_id\\":\\"7","emoji_name":"a",', None),
    (b'{"event_type":"add_reaction","xchannel_id":"8","emoji_name":"a","a:":"b:",', None),
    (b'{"event_type":"add_reaction","x":"a:","y":"\\":","channel_id":"3","emoji_name":"a",', "3"),
    (b'{"event_type":"add_reaction","channel_id":"4","emoji_name":"a","y":"channel_id",', "4"),
]


@pytest.mark.parametrize(("head", "channel"), KEY_PLACES)
def test_every_path_reads_a_key_by_its_last_top_level_occurrence(head, channel):
    line = head + b'"timestamp":"\\"2024-03-02T13:00:00.000Z\\""}\n'
    tally = on_every_path(line)[0]
    assert [key[3] for key in tally["reactions"]] == [channel]


def test_the_c_loop_refuses_positions_outside_the_buffer():
    args = (scan._linescan.name_table({}), {}, {}, 10, lambda _prefix: None, {}, {}, [])
    with pytest.raises(ValueError):
        scan._linescan.scan(b"ab\n", 0, 4, 100, *args)
    with pytest.raises(ValueError):
        scan._linescan.scan(b"ab\n", 3, 2, 100, *args)
    assert scan._linescan.scan(b"", 0, 0, 100, *args) == (0, 0, 0)
    with pytest.raises(ValueError):  # a names dict instead of its table
        scan._linescan.scan(b"ab\n", 0, 3, 100, {}, *args[1:])
    with pytest.raises(TypeError):
        scan._linescan.name_table({"a str": "x"})


def test_the_c_loop_reads_names_as_they_were_when_its_table_was_made():
    names = {b"app_opened": ""}  # a name that is not counted: the C loop takes its lines
    table = scan._linescan.name_table(names)
    names.clear()  # the table keeps its own copy
    line = b'{"event_type":"app_opened","os":"x","timestamp":"\\"2024-03-02T13:00:00.250Z\\""}\n'
    args = (table, {}, {}, 10, lambda _prefix: None, {}, {}, [])
    assert scan._linescan.scan(line, 0, len(line), 100, *args) == (len(line), 1, 0)
    unknown = scan._linescan.name_table({})
    assert scan._linescan.scan(line, 0, len(line), 100, unknown, *args[1:]) == (0, 0, 0)


@pytest.mark.parametrize("deflate", [isal_zlib, zlib], ids=["isal", "zlib"])
def test_the_inflater_gives_zipfile_bytes_with_isal_or_zlib(tmp_path, monkeypatch, deflate):
    monkeypatch.setattr(inflater, "_deflate", deflate)
    path = members_zip(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        expected = [archive.read(info) for info in infos]
    read_fd, write_fd = os.pipe()
    with open(tmp_path / "frames", "wb") as sink:
        os.close(read_fd)
        inflater._inflate(str(path), infos, sink.fileno())
        os.close(write_fd)
    assert frames_of((tmp_path / "frames").read_bytes()) == expected


@pytest.mark.parametrize("deflate", [isal_zlib, zlib], ids=["isal", "zlib"])
def test_a_corrupt_stream_is_a_bad_zip_with_isal_or_zlib(tmp_path, monkeypatch, deflate):
    monkeypatch.setattr(inflater, "_deflate", deflate)
    path, info = corrupt_zip(tmp_path)
    with open(tmp_path / "frames", "wb") as sink, pytest.raises(zipfile.BadZipFile):
        inflater._inflate(str(path), [info], sink.fileno())


def frames_of(stream: bytes) -> list[bytes]:
    """The members written by the inflater, from its D and N frames."""
    members, parts, pos = [], [], 0
    header = struct.Struct(">cQ")
    while pos < len(stream):
        kind, size = header.unpack_from(stream, pos)
        payload = stream[pos + header.size : pos + header.size + size]
        pos += header.size + size
        if kind == b"D":
            parts.append(payload)
        elif kind == b"N":
            members.append(b"".join(parts))
            parts = []
        else:
            raise pickle.loads(payload)
    return members


def hours_agree(prefix: bytes) -> None:
    """The C loop's hour of a prefix is instants.hour_start's, or C leaves it to Python."""
    native = scan._linescan.hour_number(prefix)
    try:
        text = prefix.decode()
    except UnicodeDecodeError:
        assert native is None
        return
    if native is not None:
        assert native * 3600 == hour_start(text), prefix


def test_the_c_loop_floors_hours_where_python_does():
    assert scan._linescan.MIN_SECONDS == MIN_SECONDS


@pytest.mark.parametrize(
    ("prefix", "decided"),
    [
        (b"2015-01-01T00", True),  # the first hour after MIN_SECONDS
        (b"2014-12-31T23", False),  # before it: Python refuses it
        (b"2016-02-29 07", True),
        (b"2100-02-29T00", False),  # not a leap year
        (b"2000-02-29T00", False),  # a leap day, before MIN_SECONDS
        (b"2400-02-29T12", True),
        (b"9999-12-31T23", True),
        (b"2024-13-01T00", False),
        (b"2024-00-10T00", False),
        (b"2024-04-31T00", False),
        (b"2024-04-00T00", False),
        (b"2024-04-30T24", False),
        (b"2024-04-30X10", False),
        (b"2024/04/30T10", False),
        (b"2024-04-3aT10", False),
    ],
)
def test_the_c_loop_reads_hours_as_python_does(prefix, decided):
    hours_agree(prefix)
    assert (scan._linescan.hour_number(prefix) is not None) == decided


@settings(max_examples=2000, deadline=None)
@given(
    st.binary(min_size=13, max_size=13)
    | st.text("0123456789-T :", min_size=13, max_size=13).map(str.encode)
)
def test_any_prefix_gets_pythons_hour_or_goes_to_python(prefix):
    hours_agree(prefix)


@settings(max_examples=2000, deadline=None)
@given(
    st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(9999, 12, 31, 23)),
    st.sampled_from("T "),
)
def test_every_hour_from_2015_on_is_read_in_c(moment, separator):
    prefix = moment.strftime(f"%Y-%m-%d{separator}%H").encode()
    assert scan._linescan.hour_number(prefix) is not None
    hours_agree(prefix)


def voice_line(stamp: str, track: str) -> bytes:
    """A voice join whose event time and client time are these stamps."""
    return event("join_voice_channel", stamp, '"channel_id":"4"', '"guild_id":"9"').replace(
        b'"day"', b'"client_track_timestamp":"\\"%s\\"","day"' % track.encode()
    )


def stamps(since: datetime):
    return st.datetimes(min_value=since, max_value=datetime(9999, 12, 31)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(stamps(datetime(2015, 1, 1)), stamps(datetime(2010, 1, 1))),
        min_size=1,
        max_size=20,
    )
)
def test_instants_the_c_loop_reads_are_the_exact_readers(pairs):
    """Events from 2015 on (earlier ones are not counted), client times from any year (one
    before 2015 is unusable: the event's time stands in)."""
    data = b"\n".join(voice_line(stamp, track) for stamp, track in pairs) + b"\n"
    exact = tally_on_path("exact", data)
    assert tally_on_path("native", data) == exact
    assert tally_on_path("python", data) == exact
    assert len(exact[0]["voice"]) == len(pairs)


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    """data cut into chunks of those sizes in turn, the rest in one."""
    chunks, at = [], 0
    for size in sizes:
        if at < len(data):
            chunks.append(data[at : at + size])
            at += size
    return [*chunks, data[at:]] if at < len(data) else chunks


class SlotStream:
    """Hands chunks over as the inflater's ring does: (buffer, lo, hi) inside a larger shared
    buffer, other bytes around each chunk (an mmap, which `find` and the C loop take)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.memory = mmap.mmap(-1, 4 + max(map(len, chunks), default=0) + 4)

    def read_view(self):
        if not self.chunks:
            return b"", 0, 0
        chunk = self.chunks.pop(0)
        self.memory[:] = b"\n{x" + b"\xff" * (len(self.memory) - 3)  # what other chunks left
        self.memory[4 : 4 + len(chunk)] = chunk
        return self.memory, 4, 4 + len(chunk)


class CopyStream:
    """The same chunks as bytes, through `read` (no `read_view`)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def read(self, _size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def scanned(stream, native: bool, max_line: int):
    tally, skipped = SourceTally(), Skipped()
    scanner = scan.ActivityScanner(tally, skipped, max_line)
    scanner.native = native
    lines = scanner.read(stream)
    state = dict(tally.__dict__)
    state["sessions"] = sorted(state["sessions"])
    return state, dict(skipped.by_reason), lines


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(LINES) - 1), min_size=1, max_size=20),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(MUTATIONS)), max_size=4),
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=30),
    max_line=st.sampled_from([60, 1 << 20]),
    native=st.booleans(),
)
def test_chunks_read_in_place_count_as_copied_chunks(picks, edits, sizes, max_line, native):
    data = bytearray(b"\n".join(LINES[pick] for pick in picks))
    for at, piece in edits:
        at %= len(data) or 1
        data[at:at] = piece
    data = bytes(data)
    in_place = scanned(SlotStream(split(data, sizes)), native, max_line)
    assert in_place == scanned(CopyStream(split(data, sizes)), native, max_line)
    assert in_place == tally_with("native" if native else "python", data, max_line)


class CountingLinescan:
    """The C module, counting its calls by name."""

    def __init__(self, module) -> None:
        self.module, self.calls = module, Counter()

    def __getattr__(self, name: str):
        self.calls[name] += 1
        return getattr(self.module, name)


def test_names_learnt_go_into_the_c_loops_table_which_is_made_once(monkeypatch):
    # 600 uncounted names, each on two lines: the first teaches it, the second the C loop takes
    line = '{{"event_type":"name_{}","timestamp":"\\\\"2024-03-02T13:00:00.250Z\\\\""}}'
    data = "\n".join(line.format(k % 600) for k in range(1200)).encode() + b"\n"
    spy = CountingLinescan(scan._linescan)
    monkeypatch.setattr(scan, "_linescan", spy)
    tally, skipped = SourceTally(), Skipped()
    scanner = scan.ActivityScanner(tally, skipped, 1 << 20)
    lines = scanner.read(io.BufferedReader(io.BytesIO(data)))
    assert lines == 1200 and not skipped.by_reason
    assert spy.calls["name_table"] == 1 and spy.calls["name_table_add"] == 600
    # one C call per name learnt, and no line of a known name left to Python
    assert spy.calls["scan"] == 601


def test_a_name_table_grows_and_keeps_every_name():
    table = scan._linescan.name_table({})
    for k in range(3000):
        scan._linescan.name_table_add(table, f"n{k}".encode(), "")
    stamp = '"timestamp":"\\"2024-03-02T13:00:00.250Z\\""'
    data = "\n".join(f'{{"event_type":"n{k}",{stamp}}}' for k in range(3000)).encode() + b"\n"
    args = (table, {}, {}, 10, lambda _prefix: None, {}, {}, [])
    assert scan._linescan.scan(data, 0, len(data), 1 << 20, *args) == (len(data), 3000, 0)
    # a name given again takes its new event type: counted now, and without a plan, left
    scan._linescan.name_table_add(table, b"n7", "app_opened")
    line = f'{{"event_type":"n7",{stamp}}}\n'.encode()
    assert scan._linescan.scan(line, 0, len(line), 1 << 20, *args) == (0, 0, 0)
    unknown = b'{"event_type":"n3000","timestamp":1}\n'
    assert scan._linescan.scan(unknown, 0, len(unknown), 1 << 20, *args) == (0, 0, 0)
