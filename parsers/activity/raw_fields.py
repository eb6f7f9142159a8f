"""Read a flat line of compact JSON in place, without decoding it: the Python loop's readers.

The C loop (_linescan.c) reads the same way. A line is taken only when every read is certain;
anything else raises Unsure (or returns None/-1) and the line takes the exact path.
"""

_STAMP_KEY = b'"timestamp":'
_STAMP_OPEN = b'"\\"'
_STAMP_END = b'\\""'
_WIDTH = 24  # YYYY-MM-DDTHH:MM:SS.fffZ
# Every digit becomes "0": a well-formed stamp then reads exactly _SHAPE.
_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else byte for byte in range(256))
_SHAPE = b"0000-00-00T00:00:00.000Z"


class Unsure(Exception):
    """A field cannot be taken without a full decode (the line takes the exact path)."""


_SPACED = 1  # a tab or carriage return in the buffer: each line is checked for one
_NON_ASCII = 2


def buffer_shape(buffer: bytes) -> int:
    """Flags for what a buffer of lines may hold; only memchr-speed checks (never per line).

    Compact JSON (Discord's) has no whitespace outside strings. A raw tab or CR can only be
    whitespace between tokens (or invalid JSON), so a line with one takes the exact path.
    Spaces are not checked (they are common inside strings): see docs/performance.md.
    """
    shape = 0 if buffer.isascii() else _NON_ASCII
    if buffer.find(b"\t") >= 0 or buffer.find(b"\r") >= 0:
        shape |= _SPACED
    return shape


def usual_end(buffer: bytes, pos: int, end: int, shape: int) -> int:
    """The end of buffer[pos:end] without a final CR if it is one flat object, else -1.

    Flat, so a key found is a top-level key: `{` first, `}` last and no other brace (even in
    a string; outside one it is invalid JSON, which orjson refuses); no tab or CR (whitespace
    that could sit before a colon); valid UTF-8. shape is buffer_shape(buffer).
    """
    if buffer[end - 1] == 0x0D:  # a CRLF line end
        end -= 1
    if (
        buffer[pos] != 0x7B
        or buffer[end - 1] != 0x7D
        or buffer.find(b"{", pos + 1, end) >= 0
        or buffer.find(b"}", pos, end - 1) >= 0
        or (shape and not _clean(buffer, pos, end, shape))
    ):
        return -1
    return end


def event_stamp(buffer: bytes, pos: int, end: int) -> bytes | None:
    """The 24 bytes of the line's last timestamp (the one orjson keeps) in the usual shape."""
    at = buffer.rfind(_STAMP_KEY, pos, end)
    if at < 0 or (buffer[at - 1] != 0x2C and at != pos + 1):
        return None
    return _stamp(buffer, at + len(_STAMP_KEY), end)


def _clean(buffer: bytes, pos: int, end: int, shape: int) -> bool:
    """No tab or CR in the line, valid UTF-8 (the C loop checks the same, per line)."""
    if shape & _SPACED and (buffer.find(b"\t", pos, end) >= 0 or buffer.find(b"\r", pos, end) >= 0):
        return False
    if shape & _NON_ASCII:
        try:
            buffer[pos:end].decode()
        except UnicodeDecodeError:  # orjson would refuse it
            return False
    return True


def _stamp(buffer: bytes, start: int, end: int) -> bytes | None:
    """The 24 bytes of a `"\\"YYYY-MM-DDTHH:MM:SS.fffZ\\""` value at start, or None."""
    stamp = buffer[start + 3 : start + 3 + _WIDTH]
    if (
        not stamp_shaped(stamp)
        or not buffer.startswith(_STAMP_OPEN, start, end)
        or not buffer.startswith(_STAMP_END, start + 3 + _WIDTH, end)
    ):
        return None
    return stamp


def stamp_shaped(text: bytes) -> bool:
    """YYYY-MM-DDTHH:MM:SS.fffZ with minutes and seconds under 60 (a leap second may end the
    day), so its instant is its hour's start plus its minutes, seconds and milliseconds."""
    return text.translate(_MASK) == _SHAPE and text[14] <= 0x35 and text[17] <= 0x35


def stamp_seconds(stamp: bytes, hour: int) -> float:
    """The instant of a stamp_shaped text in that hour: parse_instant's own arithmetic."""
    return hour * 3600 + int(stamp[14:16]) * 60 + int(stamp[17:19]) + int(stamp[20:23]) / 1000


def _value_at(buffer: bytes, pos: int, end: int, key: bytes) -> int:
    """Where the value of the last `"key":` starts, -1 when absent; Unsure if maybe not a key.

    The line is flat compact JSON: `"key":` after a comma, or first after the brace, is a
    top-level key, and its last occurrence is the one orjson keeps.
    """
    at = buffer.rfind(key, pos, end)
    if at < 0:
        return -1
    if buffer[at - 1] != 0x2C and at != pos + 1:
        raise Unsure
    return at + len(key)


def _text(buffer: bytes, pos: int, end: int, key: bytes) -> bytes | None:
    """A TEXT field: the raw text of a string without escapes, None when absent or null."""
    at = buffer.rfind(key, pos, end)  # as _value_at, inlined: most counted lines read one
    if at < 0:
        return None
    if buffer[at - 1] != 0x2C and at != pos + 1:
        raise Unsure
    return _plain(buffer, at + len(key), end)


def _plain(buffer: bytes, start: int, end: int) -> bytes | None:
    if buffer[start] == 0x22:
        close = buffer.find(b'"', start + 1, end)
        raw = buffer[start + 1 : close]
        if close < 0 or b"\\" in raw:
            raise Unsure
        return raw
    if buffer.startswith(b"null", start, end) and buffer[start + 4] in b",}":
        return None
    raise Unsure  # numbers, booleans, arrays: rare, orjson decides


def _instant(buffer: bytes, pos: int, end: int, key: bytes) -> bytes | None:
    """An INSTANT field: a quoted stamp's 24 bytes, else as a TEXT field."""
    start = _value_at(buffer, pos, end, key)
    if start < 0:
        return None
    if buffer.startswith(_STAMP_OPEN, start, end):
        stamp = _stamp(buffer, start, end)
        if stamp is None:
            raise Unsure
        return stamp
    return _plain(buffer, start, end)


# The Python loop's reader of each field kind, by Kind.name (a kind missing here sends its
# rules' lines to the exact path).
READERS = {"text": _text, "instant": _instant}
