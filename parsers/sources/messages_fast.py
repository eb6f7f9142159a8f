"""messages.json in chunks: complete lines counted in C or decoded as one JSON array, exact reader
as fallback.

The lines of each chunk of complete lines that are messages of the usual shape are counted
without being decoded (MessageSink.add_lines, a C pass). A line the pass does not take is
decoded alone and the pass resumes after it; from a second such line in a row, the rest of the
chunk is wrapped into `[...]` and decoded by one orjson call. Decoded messages are counted by
MessageSink.add_objects. Lines that are not a clean array of objects (bad JSON, a line over the
limit, an object cut by the chunk edge...) and everything after them go through
messages.read_messages_json, the exact line reader, from the first of them.
"""

import io

import orjson

from parsers.sources.messages import MessageSink, read_messages_json

CHUNK_BYTES = 1024 * 1024
_SEPARATORS = b" \t\r\n,[]"


def read_messages_json_fast(stream, sink: MessageSink, max_line_bytes: int) -> None:
    """Count a messages.json stream into the sink (same counts and skips as read_messages_json)."""
    try:
        _read(stream, sink, max_line_bytes)
    finally:
        sink.finish()


def _read(stream, sink: MessageSink, max_line_bytes: int) -> None:
    carry = b""
    while chunk := stream.read(CHUNK_BYTES):
        buffer = carry + chunk if carry else chunk
        cut = buffer.rfind(b"\n") + 1
        if len(buffer) > max_line_bytes:
            break  # a line may be over the limit: the exact reader decides
        counted = _count(buffer, cut, sink) if cut else 0
        if counted < cut:
            buffer = buffer[counted:]
            break
        carry = buffer[cut:]
    else:
        counted = _count(carry, len(carry), sink) if carry else 0
        if counted == len(carry):
            return
        buffer = carry[counted:]
    read_messages_json(io.BufferedReader(_Chain(buffer, stream)), sink, max_line_bytes)


def _count(buffer: bytes, stop: int, sink: MessageSink) -> int:
    """Count the complete lines of buffer[:stop]: those of the usual shape without decoding them
    (`MessageSink.add_lines`), a line it doubts decoded alone and the pass resumed after it,
    and, from a second doubted line in a row, the rest decoded as one array of objects. Return
    how many bytes were counted: `stop`, or where the lines the exact reader must read start."""
    view = memoryview(buffer)
    start, resumed = 0, False
    while start < stop:
        doubted = start + sink.add_lines(view[start:stop], stop - start)
        if doubted == stop:
            break
        if resumed and doubted == start:  # doubts in a row: the decoder takes the rest in bulk
            return stop if _decoded(buffer[start:stop], sink) else start
        after = buffer.find(b"\n", doubted, stop) + 1 or stop
        if not _decoded(buffer[doubted:after], sink):
            return doubted
        start, resumed = after, True
    return stop


def _decoded(lines: bytes, sink: MessageSink) -> bool:
    """Count a run of complete lines if they decode as an array of objects; else count nothing."""
    body = lines.strip(_SEPARATORS)
    if not body:
        return True
    if body[0] != 0x7B or body[-1] != 0x7D:
        return False
    try:
        messages = orjson.loads(b"[" + body + b"]")
    except orjson.JSONDecodeError:
        return False
    for message in messages:
        if type(message) is not dict:
            return False
    sink.add_objects(messages)
    return True


class _Chain(io.RawIOBase):
    """The bytes already read, then the rest of the stream."""

    def __init__(self, head: bytes, stream) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
