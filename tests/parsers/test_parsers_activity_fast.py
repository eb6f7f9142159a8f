"""The fast activity scanner agrees with the line reader; the activity child process."""

import io
import json
import os
import signal
import zipfile

import pytest

import parsers.activity.scan as scan
from parsers.activity.child import ActivityProcess, ChildFailed
from parsers.activity.exact import read_activity
from parsers.activity.rules import SourceTally
from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import analyze_package
from parsers.streams import Progress, Skipped
from tests.parsers.zipbuild import package, view_texts, write_zip

TS = '"\\"2024-05-01T10:00:00.412Z\\""'

pytestmark = pytest.mark.usefixtures("scan_loop")  # the C loop and the Python one


def compact(**fields) -> bytes:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


LINES = [
    b'{"event_type":"send_message","channel_id":"1","timestamp":' + TS.encode() + b"}",
    b'{"event_type":"app_opened","os":"Linux","timestamp":' + TS.encode() + b"}",
    b'{"event_type":"app_opened","timestamp":"\\"2024-05-02T10:00:00Z\\""}\r',
    compact(event_type="add_reaction", timestamp="2024-05-01T11:00:00Z", emoji_name="👍"),
    compact(event_type="add_reaction", timestamp="2024-05-01T11:00:00Z", emoji_name='\\"x'),
    compact(event_type="join_voice_channel", timestamp="2024-05-01T12:00:00Z", channel_id=7),
    compact(event_type="leave_voice_channel", timestamp="2024-05-01T12:30:00Z", channel_id="7"),
    compact(event_type="guild_joined", timestamp="2024-05-01T12:00:00Z", guild_id="null"),
    compact(event_type="application_command_used", timestamp=1714557600000, application_id="9"),
    b'{"event_type":"session_start","os":"A","os":"B","timestamp":' + TS.encode() + b"}",
    b'{"event_type":"send_message","x":{"timestamp":"2020-01-01T00:00:00Z"},"timestamp":null}',
    b'{"event_type":"send_message","timestamp":"2024-05-01T10:00:00Z"',  # truncated
    b'{"event_type":"send_message","timestamp":"2024-05-01T10:00:00Z","c":"\xff"}',
    b'{"event_type":"message_edited","timestamp":"not a time"}',
    b'{"event_type":"odd-name","timestamp":"2024-05-01T10:00:00Z"}',
    b'{"event_type":"app_ui_viewed","timestamp":"2024-05-01T10:00:00Z"}',
    b'{"timestamp":"2024-05-01T10:00:00Z","event_type":"message_deleted"}',
    b'{"predicted_gender":"x"}',
    b"",
    b'{"event_type":"send_message","pad":"' + b"p" * 300 + b'","timestamp":"2024-05-01Z"}',
    b'{"event_type":"add_reaction","channel_id":"3","emoji_name":"x","timestamp":"2024-05-01Z"}',
    b'{"event_type":"slash_command_used","guild_id":"4","application_id":"9","timestamp":"2024-05-01"}',
    b'{"event_type":"send_message","timestamp":"2024-05-03T10:00:00Z"}',  # no final newline
]


def tally_of(reader, data: bytes, max_line: int = 1 << 20):
    tally, skipped = SourceTally(), Skipped()
    stream = io.BufferedReader(io.BytesIO(data))
    lines = reader(stream, tally, skipped, max_line)
    return tally, skipped.by_reason, lines


def same(a: SourceTally, b: SourceTally) -> bool:
    return a.__dict__ == b.__dict__


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("max_line", [100, 1 << 20])
def test_fast_scanner_matches_line_reader_at_any_buffer_split(monkeypatch, chunk, max_line):
    monkeypatch.setattr(scan, "CHUNK_BYTES", chunk)
    data = b"\n".join(LINES)
    fast = tally_of(scan.read_activity_fast, data, max_line)
    reference = tally_of(read_activity, data, max_line)
    assert same(fast[0], reference[0])
    assert fast[1:] == reference[1:]
    assert fast[2] == len(LINES)


def test_fast_scanner_counts_long_and_invalid_lines(monkeypatch):
    monkeypatch.setattr(scan, "CHUNK_BYTES", 16)
    data = b"\n".join(LINES) + b"\n" + b'{"event_type":"x","p":"' + b"y" * 500
    tally, skipped, lines = tally_of(scan.read_activity_fast, data, 100)
    assert skipped["too_long"] == 2
    assert skipped["invalid_utf8"] == 1 and skipped["invalid_json"] == 1
    assert skipped["no_event_type"] == 1 and skipped["invalid_timestamp"] == 2
    assert lines == len(LINES) + 1
    assert sum(tally.events["send_message"].values()) == 2
    assert tally.app_opens and tally.voice and tally.reactions


def big_package(tmp_path, count: int = 4000):
    noise = [compact(event_type="x", r=os.urandom(48).hex()) for _ in range(count)]
    lines = [line for pad in noise for line in (pad, *LINES[:10])]
    files = package("C", events={"analytics": lines})
    return write_zip(tmp_path / "big.zip", files)


def test_child_process_gives_the_in_process_figures(tmp_path):
    path = big_package(tmp_path, 50)
    child = analyze_package(path, package_id="x", limits=ParseLimits(activity_process_min_bytes=0))
    alone = analyze_package(path, package_id="x")
    assert view_texts(child.views()) == view_texts(alone.views())


def test_abort_from_progress_stops_the_child(tmp_path, monkeypatch):
    path = big_package(tmp_path)
    started = []
    original = ActivityProcess.__init__

    def spy(self, *args):
        original(self, *args)
        started.append(self)

    monkeypatch.setattr(ActivityProcess, "__init__", spy)

    class Stop(Exception):
        pass

    def stop(done, total):
        if started:
            raise Stop

    limits = ParseLimits(activity_process_min_bytes=0, progress_every_bytes=1)
    with pytest.raises(Stop):
        analyze_package(path, package_id="x", limits=limits, on_progress=stop)
    assert started and started[0]._process.poll() is not None


def test_child_crash_surfaces_as_an_error(tmp_path):
    path = big_package(tmp_path)
    with zipfile.ZipFile(path) as archive:
        shards = [("analytics", i) for i in archive.infolist() if "events-" in i.filename]
    child = ActivityProcess().begin(path, shards, ParseLimits(), Progress(1, None, 1 << 20))
    try:
        os.kill(child._process.pid, signal.SIGKILL)
        with pytest.raises(ChildFailed):
            child.result()
    finally:
        child.close()


def test_child_error_is_propagated(tmp_path):
    path = big_package(tmp_path, 10)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if "events-" in i.filename)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 20 : start + 60] = b"\x00" * 40  # corrupt the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidPackage):
        analyze_package(path, package_id="x", limits=ParseLimits(activity_process_min_bytes=0))
