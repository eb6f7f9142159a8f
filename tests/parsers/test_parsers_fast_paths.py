"""The hour-prefix fast paths (activity lines, messages.json chunks) match the exact readers."""

import io
import json
from collections import Counter

import pytest

import parsers.activity.scan as scan
import parsers.sources.messages as messages_module
import parsers.sources.messages_fast as messages_fast
from parsers import instants
from parsers.activity.day_counts import DayCounts
from parsers.activity.exact import read_activity
from parsers.activity.raw_fields import buffer_shape
from parsers.activity.rules import SourceTally, rulebook
from parsers.sources.messages import MessageSink, read_messages_json
from parsers.streams import Skipped

pytestmark = pytest.mark.usefixtures("scan_loop")  # the C loop and the Python one


@pytest.fixture(autouse=True)
def cold_caches():
    """Each reader starts from empty hour caches (their state can change edge results)."""
    instants.clear_caches()
    yield instants.clear_caches
    instants.clear_caches()


def event(name: str, stamp: str, *extra: str) -> bytes:
    body = "".join(f",{item}" for item in extra)
    return f'{{"event_type":"{name}"{body},"timestamp":"\\"{stamp}\\"","day":"3"}}'.encode()


ACTIVITY = [
    event("send_message", "2023-12-31T23:59:59.999Z", '"channel_id":"1"'),
    event("send_message", "2024-01-01T00:00:00.000Z"),
    event("send_message", "2024-01-01T00:30:00.500Z"),
    event("send_message", "2020-12-31T23:00:00.001Z"),
    event("message_edited", "2024-02-29T12:00:60.000Z"),  # leap second: exact path
    event("message_edited", "2024-02-30T12:00:00.000Z"),  # no such day
    event("message_edited", "2024-03-01T12:99:00.000Z"),  # no such minute
    event("message_edited", "2001-03-01T12:00:00.000Z"),  # before Discord
    event("message_deleted", "2024-03-01T12:00:00Z"),  # no fraction: exact path
    event("message_deleted", "2024-03-01T12:00:00.123456Z"),
    b'{"event_type":"join_call","timestamp":"2024-03-01T13:00:00.000Z"}',  # unquoted
    event("join_call", "2024-03-01T13:00:00.000Z").replace(b'"day"', b'"timestamp":null,"d"'),
    event("start_call", "2024-03-01T13:00:00.000Z", '"timestamp":"x"'),  # last one wins
    event("start_call", "2024-03-01T14:00:00.000Z", '"x":{"a":1}'),
    event("app_opened", "2024-03-01T15:00:00.000Z", '"os":"Linux"', '"os":"iOS"'),
    event("app_opened", "2024-03-01T15:10:00.000Z", '"os":null'),
    event("app_opened", "2024-03-01T15:20:00.000Z", '"os":""'),
    event("app_opened", "2024-03-01T15:30:00.000Z", '"os":3'),
    event("app_opened", "2024-03-01T15:40:00.000Z", '"os":" \\"Mac\\" "'),
    event("app_opened", "2024-03-01T15:50:00.000Z"),
    event("app_opened", "2024-03-01T15:55:00.000Z", '"os":"Wíndows"'),
    event("add_reaction", "2024-03-02T10:00:00.000Z", '"emoji_name":"👍"'),
    event("add_reaction", "2024-03-02T10:00:00.000Z", '"emoji_name":"x"', '"emoji_id":"9"'),
    event("add_reaction", "2024-03-02T10:00:00.000Z", '"emoji_name":"x"', '"emoji_id":null'),
    event("add_reaction", "2024-03-02T10:00:00.000Z", '"channel_id":"8"', '"emoji_name":"x"'),
    event("add_reaction", "2024-03-02T10:00:00.000Z", '"emoji_name":"y"', '"channel_id":8'),
    event("guild_joined", "2024-03-02T11:00:00.000Z", '"guild_id":"5"'),
    event("guild_joined", "2024-03-02T11:00:00.000Z", '"guild_id":"null"'),
    event("slash_command_used", "2024-03-02T12:00:00.000Z", '"application_id":"-1"'),
    event("application_command_used", "2024-03-02T12:00:00.000Z", '"application_id":"7"'),
    event(
        "application_command_used",
        "2024-03-02T12:00:00.000Z",
        '"guild_id":"5"',
        '"application_id":"7"',
    ),
    event("slash_command_used", "2024-03-02T12:00:00.000Z", '"application_id":"6"'),
    event("session_start", "2024-03-02T13:00:00.250Z", '"os":"A"'),
    event("session_end", "2024-03-02T14:00:00.750Z", '"os":"A"'),
    event("join_voice_channel", "2024-03-02T13:00:00.000Z", '"channel_id":"4"'),
    event("leave_voice_channel", "2024-03-02T13:30:00.000Z", '"channel_id":"4"'),
    event("send_message", "2024-03-03T10:00:00.000Z", '"c":"é"'),
    event("send_message", "2024-03-03T10:00:00.000Z").replace(b'"day":"3"', b'"c":"\xff"'),
    b'{"event_type":"app_ui_viewed","timestamp":"2024-05-01T10:00:00Z"}',
]


def normalized(tally: SourceTally) -> dict:
    state = dict(tally.__dict__)
    state["sessions"] = sorted(state["sessions"])
    return state


def read(reader, data: bytes, max_line: int = 1 << 20):
    tally, skipped = SourceTally(), Skipped()
    lines = reader(io.BufferedReader(io.BytesIO(data)), tally, skipped, max_line)
    return normalized(tally), skipped.by_reason, lines


@pytest.mark.parametrize("chunk", [5, 64, 300, 1 << 20])
@pytest.mark.parametrize("separator", [b"\n", b"\r\n"])
def test_hour_counts_match_the_line_reader(monkeypatch, cold_caches, chunk, separator):
    monkeypatch.setattr(scan, "CHUNK_BYTES", chunk)
    data = separator.join(ACTIVITY * 3) + separator
    fast = read(scan.read_activity_fast, data)
    cold_caches()
    assert fast == read(read_activity, data)


def test_day_counts_take_the_common_lines_and_fold_like_count_event():
    data = b"\n".join(ACTIVITY) + b"\n"
    tally = SourceTally()
    counts = DayCounts(tally, rulebook())
    shape = buffer_shape(data)
    taken, pos = [], 0
    for line in ACTIVITY:
        end = pos + len(line)
        name = line[15 : line.find(b'"', 15)].decode()
        taken.append(counts.add(data, pos, end, name, shape))
        pos = end + 1
    assert taken[:4] == [True] * 4  # across a day and a year, cached hours
    assert taken[4:9] == [False, False, False, False, False]
    assert taken[9:14] == [False, False, False, True, False]  # the last timestamp wins
    assert taken[14:21] == [True, True, True, False, False, True, True]
    assert taken[-5] and taken[-4]  # voice: on the fast path too
    counts.flush()
    assert tally.events["send_message"] == Counter(
        {19722: 1, 19723: 2, 18627: 1, 19785: 1}
    )  # é: valid UTF-8
    assert tally.app_opens[(19783, "iOS")] == 1 and tally.app_opens[(19783, "unknown")] == 3
    assert tally.app_opens[(19783, "Mac")] == 0  # an escaped value: exact path
    assert tally.reactions[(19784, "x", None, None)] == 1
    assert tally.reactions[(19784, "x", None, "8")] == 1  # the channel of a reaction
    assert tally.reactions[(19784, "y", None, "8")] == 0  # a number: exact path
    assert tally.applications == Counter(
        {
            (19784, None, "7"): 1,
            (19784, "5", "7"): 1,  # and the guild of a command (slash commands: per day only)
        }
    )
    assert tally.bounds["send_message"][0] == instants.parse_instant("2020-12-31T23:00:00.001Z")


def test_a_tab_or_cr_sends_its_line_to_the_exact_path_not_the_others():
    line = event("send_message", "2024-01-01T00:00:00.000Z")
    spaced = line.replace(b",", b",\t", 1)
    for other in (b"", b"\t\n", b"\r\n", spaced + b"\n"):
        data = other + line + b"\n" + spaced + b"\n"
        counts, pos = DayCounts(SourceTally(), rulebook()), len(other)
        assert counts.add(data, pos, pos + len(line), "send_message", buffer_shape(data))
        pos += len(line) + 1
        assert not counts.add(data, pos, pos + len(spaced), "send_message", buffer_shape(data))


MESSAGES = [
    {"ID": 1, "Timestamp": "2023-12-31 23:59:59", "Contents": "a", "Attachments": ""},
    {"ID": 2, "Timestamp": "2024-01-01 00:00:00", "Contents": "", "Attachments": ""},
    {"ID": 3, "Timestamp": "2024-01-01 00:10:00", "Contents": "b\nc", "Attachments": ""},
    {"ID": 4, "Timestamp": "2024-01-01 00:99:00", "Contents": "known hour, odd minute"},
    {"ID": 5, "Timestamp": "2024-02-01 00:99:00", "Contents": "new hour, odd minute"},
    {"ID": 6, "Timestamp": "2024-02-01 00:01:00", "Contents": "then valid"},
    {"ID": 7, "Timestamp": "2024-02-01T01:00:00", "Contents": "T"},
    {"ID": 8, "Timestamp": "2024-02-01 02:00:00.5+00:00", "Contents": "tail"},
    {"ID": 9, "timestamp": "2024-02-01 03:00:00", "Contents": "lower key"},
    {"ID": 10, "Contents": "no timestamp"},
    {"ID": 11, "Timestamp": 1706756400, "Contents": "number"},
]


def file_of(items: list, *, pretty: bool = False) -> bytes:
    lines = [json.dumps(item, ensure_ascii=False, indent=1 if pretty else None) for item in items]
    return ("[" + ",\n".join(lines) + "]").encode()


def count(reader, data: bytes, max_line: int = 1 << 20):
    counts, skipped = Counter(), Skipped()
    sink = MessageSink(counts, skipped)
    reader(io.BufferedReader(io.BytesIO(data)), sink, max_line)
    return counts, skipped.by_reason, sink.records, sink.first, sink.last


CASES = {
    "usual": file_of(MESSAGES[:4] * 5),
    "mixed": file_of(MESSAGES),
    "pretty": file_of(MESSAGES[:3], pretty=True),
    "empty": b"[]",
    "nothing": b"",
    "bad line": file_of(MESSAGES[:3]).replace(b'"ID": 2', b'"ID": 2 2'),
    "huge id": file_of(MESSAGES[:3]).replace(b'"ID": 2', b'"ID": 1' + b"0" * 30),
    "not objects": b"[1,\n2,\n" + file_of(MESSAGES[:2])[1:],
    "two per line": file_of(MESSAGES[:2]).replace(b",\n", b", ") + b"\n",
    "junk": file_of(MESSAGES[:2]) + b"\n]x\n" + file_of(MESSAGES[2:4]),
    "bad utf8": file_of(MESSAGES[:3]).replace(b'"a"', b'"\xff"'),
    "crlf": file_of(MESSAGES[:3]).replace(b"\n", b"\r\n"),
    "no newline": file_of(MESSAGES[:1]),
    "long line": file_of([*MESSAGES[:3], {"Timestamp": "2024-01-01 00:00:00", "x": "y" * 400}]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("max_line", [200, 1 << 20])
@pytest.mark.parametrize("line_pass", ["C line pass", "decoded only"])
def test_message_chunks_match_the_line_reader(
    monkeypatch, cold_caches, name, chunk, max_line, line_pass
):
    monkeypatch.setattr(messages_fast, "CHUNK_BYTES", chunk)
    if line_pass == "decoded only":
        monkeypatch.setattr(messages_module, "line_stamps", None)
    fast = count(messages_fast.read_messages_json_fast, CASES[name], max_line)
    cold_caches()
    assert fast == count(read_messages_json, CASES[name], max_line)


def test_message_chunks_count_known_hours_in_bulk(cold_caches):
    data = file_of(MESSAGES[:3] * 100)
    first = count(messages_fast.read_messages_json_fast, data)
    again = count(messages_fast.read_messages_json_fast, data)  # hours now known
    assert first == again
    assert first[0] == Counter({473351: 100, 473352: 200})
    assert first[2] == 300 and not first[1]
