"""messages.json lines counted without decoding them (`_stamps.line_stamps`, through
`MessageSink.add_lines`) count as the exact reader counts, and every line the pass doubts is left
to the decoder, from that line on."""

import io
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers.sources.messages as messages_module
import parsers.sources.messages_fast as messages_fast
from parsers.instants import fresh_caches
from parsers.sources.messages import MessageSink, read_messages_json
from parsers.streams import Skipped

STAMP = "2024-05-01 07:59:34"
HOUR = 1714550374 // 3600
USUAL = f'{{"ID":1235138536726041157,"Timestamp":"{STAMP}","Contents":"brb","Attachments":""}}'

# Lines the pass takes: the usual shape in the spellings a JSON serializer may write.
TAKEN = {
    "usual": USUAL,
    "keys in another order": f'{{"Contents":"x","Attachments":"","Timestamp":"{STAMP}","ID":1}}',
    "spaces": f'{{ "ID" : 1 , "Timestamp" : "{STAMP}" }}',
    "tabs and a CR": f'{{\t"Timestamp":\r"{STAMP}"\t}}',
    "escapes in a value": f'{{"Timestamp":"{STAMP}","Contents":"a \\"b\\" \\\\ \\n \\u00e9 \\/"}}',
    "unicode": f'{{"Timestamp":"{STAMP}","Contents":"h\u00e9llo \U0001f600 \u65e5\u672c"}}',
    "literals": f'{{"Timestamp":"{STAMP}","a":true,"b":false,"c":null}}',
    "integers": f'{{"Timestamp":"{STAMP}","d":-12,"e":0,"f":-0,"g":{"9" * 40}}}',
    "a lowercase key too": f'{{"timestamp":"1999-01-01 00:00:00","Timestamp":"{STAMP}"}}',
    "empty strings": f'{{"Timestamp":"{STAMP}","":""}}',
    "an escaped NUL": f'{{"Timestamp":"{STAMP}","x":"\\u0000"}}',
    "an escaped astral character": f'{{"Timestamp":"{STAMP}","x":"\\ud83d\\ude00"}}',
}
# Lines the pass leaves to the decoder (which may count them all the same).
DOUBTED = {
    "no timestamp": '{"ID":1}',
    "the lowercase key only": f'{{"timestamp":"{STAMP}"}}',
    "a null stamp": f'{{"Timestamp":null,"timestamp":"{STAMP}"}}',
    "the key twice": f'{{"Timestamp":"{STAMP}","Timestamp":"2024-05-01 08:00:00"}}',
    "an escaped key": f'{{"Time\\u0073tamp":"{STAMP}"}}',
    "an escaped stamp": '{"Timestamp":"2024-05-01\\u002007:59:34"}',
    "a T stamp": '{"Timestamp":"2024-05-01T07:59:34"}',
    "a fraction": '{"Timestamp":"2024-05-01 07:59:34.5+00:00"}',
    "a leap second": '{"Timestamp":"2024-05-01 07:59:60"}',
    "an odd minute": '{"Timestamp":"2024-05-01 07:99:00"}',
    "an impossible date": '{"Timestamp":"2024-02-30 07:59:34"}',
    "before Discord": '{"Timestamp":"2014-05-01 07:59:34"}',
    "hour 24": '{"Timestamp":"2024-05-01 24:00:00"}',
    "other digits": '{"Timestamp":"2024-05-01 0\u0663:59:34"}',
    "a number stamp": '{"Timestamp":1714550374}',
    "a float": f'{{"Timestamp":"{STAMP}","x":1.5}}',
    "an exponent": f'{{"Timestamp":"{STAMP}","x":1e5}}',
    "a leading zero": f'{{"Timestamp":"{STAMP}","x":01}}',
    "a lone minus": f'{{"Timestamp":"{STAMP}","x":-}}',
    "a nested object": f'{{"Timestamp":"{STAMP}","x":{{"a":1}}}}',
    "an array": f'{{"Timestamp":"{STAMP}","x":[1]}}',
    "a lone surrogate": f'{{"Timestamp":"{STAMP}","x":"\\ud800"}}',
    "a low surrogate first": f'{{"Timestamp":"{STAMP}","x":"\\ude00\\ud83d"}}',
    "a high surrogate, another unit": f'{{"Timestamp":"{STAMP}","x":"\\ud83d\\u0041"}}',
    "a high surrogate last": f'{{"Timestamp":"{STAMP}","x":"\\ud83d"}}',
    "a short escape": f'{{"Timestamp":"{STAMP}","x":"\\u12"}}',
    "a bad escape": f'{{"Timestamp":"{STAMP}","x":"\\q"}}',
    "a raw control byte": f'{{"Timestamp":"{STAMP}","x":"a\x01b"}}',
    "a trailing comma": f'{{"Timestamp":"{STAMP}",}}',
    "two objects": f'{{"Timestamp":"{STAMP}"}},{{"Timestamp":"{STAMP}"}}',
    "an unquoted key": f'{{Timestamp:"{STAMP}"}}',
    "single quotes": f"{{'Timestamp':'{STAMP}'}}",
    "an empty object": "{}",
    "not an object": f'"{STAMP}"',
    "an open object": f'{{"Timestamp":"{STAMP}",',
    "a bad literal": f'{{"Timestamp":"{STAMP}","x":nul}}',
    "junk after it": f'{{"Timestamp":"{STAMP}"}}x',
    "a NUL byte": f'{{"Timestamp":"{STAMP}"\x00}}',
    "no colon": f'{{"Timestamp" "{STAMP}"}}',
}
BAD_BYTES = {
    "invalid UTF-8": b'{"Timestamp":"' + STAMP.encode() + b'","x":"\xff"}',
    "an overlong": b'{"Timestamp":"' + STAMP.encode() + b'","x":"\xc0\xaf"}',
    "an encoded surrogate": b'{"Timestamp":"' + STAMP.encode() + b'","x":"\xed\xa0\x80"}',
    "a cut sequence": b'{"Timestamp":"' + STAMP.encode() + b'","x":"\xe6\x97"}',
}
DOUBTED_LINES = {name: line.encode() for name, line in DOUBTED.items()} | BAD_BYTES


def line_pass(keys: dict | None = None, max_keys: int = 100):
    """The C pass over (buffer, stop, counts), sharing hour keys through `keys`; the checkout
    must have built it (`make venv`)."""
    line_stamps = messages_module.line_stamps
    if line_stamps is None:  # pragma: no cover - make venv builds it
        pytest.fail("parsers/sources/_stamps.c is not built: run `make venv`")
    shared = {} if keys is None else keys
    return lambda data, stop, counts: line_stamps(data, stop, counts, shared, max_keys)


def count(reader, data: bytes, max_line: int = 1 << 20):
    """(counts, skips, records, first, last) of a messages.json read by `reader`, from cold
    caches."""
    counts, skipped = Counter(), Skipped()
    with fresh_caches():
        sink = MessageSink(counts, skipped)
        reader(io.BufferedReader(io.BytesIO(data)), sink, max_line)
    return counts, skipped.by_reason, sink.records, sink.first, sink.last


def array(*lines: bytes) -> bytes:
    return b"[" + b",\n".join(lines) + b"]\n"


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_the_pass_takes_the_usual_shapes(name):
    line = TAKEN[name].encode()
    data = array(line, line)
    counts: Counter[int] = Counter()
    assert line_pass()(data, len(data), counts) == (len(data), 2, STAMP, STAMP)
    assert counts == Counter({HOUR: 2})
    assert count(messages_fast.read_messages_json_fast, data) == count(read_messages_json, data)


@pytest.mark.parametrize("name", sorted(DOUBTED_LINES))
def test_the_pass_stops_at_a_line_it_doubts(name):
    usual = USUAL.encode()
    data = usual + b",\n" + DOUBTED_LINES[name] + b",\n" + usual + b"\n"
    counts: Counter[int] = Counter()
    assert line_pass()(data, len(data), counts) == (len(usual) + 2, 1, STAMP, STAMP)
    assert counts == Counter({HOUR: 1})
    assert count(messages_fast.read_messages_json_fast, data) == count(read_messages_json, data)


def test_the_pass_reads_only_up_to_stop_and_keeps_counting_into_counts():
    first, later = (
        USUAL.encode(),
        TAKEN["keys in another order"].encode().replace(b"05-01", b"05-02"),
    )
    data = first + b"\n" + later + b"\n"
    counts: Counter[int] = Counter({HOUR: 5})
    assert line_pass()(data, len(first) + 1, counts) == (len(first) + 1, 1, STAMP, STAMP)
    assert counts == Counter({HOUR: 6})
    taken = line_pass()(data, len(data), counts)
    assert taken == (len(data), 2, STAMP, "2024-05-02 07:59:34")
    assert counts == Counter({HOUR: 7, HOUR + 24: 1})
    assert line_pass()(b"[\n]\n , \n", 8, counts) == (8, 0, None, None)  # separators only
    with pytest.raises(ValueError):
        line_pass()(data, len(data) + 1, counts)


def test_the_pass_resumes_after_a_doubted_line_and_leaves_doubts_in_a_row_to_the_decoder(
    monkeypatch,
):
    usual, doubted = USUAL.encode(), DOUBTED_LINES["a float"]
    lines = [usual, doubted, usual, usual, doubted, DOUBTED_LINES["a fraction"], usual, usual]
    data = b"[" + b",\n".join(lines) + b"]\n"
    decoded: list[bytes] = []
    real = messages_fast._decoded
    monkeypatch.setattr(
        messages_fast, "_decoded", lambda text, sink: decoded.append(text) or real(text, sink)
    )
    fast = count(messages_fast.read_messages_json_fast, data)
    second = b",\n".join(lines[5:]) + b"]\n"
    assert decoded == [doubted + b",\n", doubted + b",\n", second], "alone, alone, then in bulk"
    assert fast == count(read_messages_json, data)


def test_the_channels_counters_share_one_key_per_hour():
    data = array(USUAL.encode())
    keys: dict[int, int] = {}
    first, second = Counter(), Counter()
    line_pass(keys)(data, len(data), first)
    line_pass(keys)(data, len(data), second)
    assert first == second == Counter({HOUR: 1}) and list(keys) == [HOUR]
    assert next(iter(first)) is next(iter(second)) is keys[HOUR]
    capped, third = {}, Counter()
    line_pass(capped, max_keys=0)(data, len(data), third)
    assert third == first and capped == {}, "past the cap: counted, not shared"


def test_without_the_pass_the_decoder_counts_the_same(monkeypatch):
    data = array(*(line.encode() for line in TAKEN.values()), *DOUBTED_LINES.values())
    with_pass = count(messages_fast.read_messages_json_fast, data)
    monkeypatch.setattr(messages_module, "line_stamps", None)
    assert count(messages_fast.read_messages_json_fast, data) == with_pass
    assert with_pass == count(read_messages_json, data)


STAMPS = st.builds(
    lambda d, h, c: f"{d} {h}{c}",
    st.sampled_from(["2024-03-01", "2024-02-29", "2024-02-30", "2014-01-01", "2024-0\u0663-01"]),
    st.sampled_from(["00", "10", "23", "24", "1x"]),
    st.sampled_from([":00:00", ":59:59", ":59:60", ":61:00", ".5", ":00:00.5+00:00"]),
)
VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**25), 10**25),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        STAMPS,
    ),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=3,
)
KEYS = st.sampled_from(["Timestamp", "timestamp", "ID", "Contents", "Attachments", "", "Time"])
OBJECTS = st.dictionaries(KEYS | st.text(max_size=4), VALUES, max_size=5)


@st.composite
def written_line(draw) -> bytes:
    """A message written as a serializer would (compact or spaced, escaped or not), or a line
    spoilt in one of the ways DOUBTED_LINES names, or a separator line."""
    kind = draw(st.sampled_from(["object", "object", "object", "spoilt", "separators"]))
    if kind == "spoilt":
        return draw(st.sampled_from(sorted(DOUBTED_LINES.values())))
    if kind == "separators":
        return draw(st.sampled_from([b"", b"[", b"]", b" ,", b"\r"]))
    message = draw(OBJECTS)
    if draw(st.booleans()):
        message = {**message, "Timestamp": draw(STAMPS)}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    text = json.dumps(message, ensure_ascii=draw(st.booleans()), separators=separators)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(written_line(), max_size=12),
    st.sampled_from([b",\n", b"\n", b",\r\n"]),
    st.sampled_from([5, 64, 1 << 20]),
)
def test_any_file_counts_as_the_exact_reader_counts(lines, separator, chunk):
    data = b"[" + separator.join(lines) + b"]"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(messages_fast, "CHUNK_BYTES", chunk)
        fast = count(messages_fast.read_messages_json_fast, data)
    assert fast == count(read_messages_json, data)


SPECIAL_BYTES = (
    b'"\\{}[],:u0123456789dD .-eE\t\r\x00\x1f\x7f\xc3\xa9\xed\xa0\x80\xf0\x9f\x98\x80\xff'
)


@st.composite
def mangled_line(draw) -> bytes:
    """A usual line with a few bytes replaced, inserted or dropped, among JSON's special bytes,
    UTF-8's lead and continuation bytes and invalid ones."""
    line = bytearray(draw(st.sampled_from(sorted(TAKEN.values()))).encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line) - 1))
        byte = draw(st.sampled_from(SPECIAL_BYTES))
        action = draw(st.sampled_from(["replace", "insert", "drop"]))
        if action == "replace":
            line[at] = byte
        elif action == "insert":
            line.insert(at, byte)
        else:
            del line[at]
    return bytes(line)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mangled_line(), st.sampled_from(sorted(TAKEN.values())).map(str.encode))))
def test_mangled_lines_count_as_the_exact_reader_counts(lines):
    data = b"[" + b",\n".join(lines) + b"]"
    assert count(messages_fast.read_messages_json_fast, data) == count(read_messages_json, data)
