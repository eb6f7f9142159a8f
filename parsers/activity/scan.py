"""Fast scanning of activity shards: big buffers, per-line work only for counted events.

A line is classified by the first `"event_type":"<name>"` in it, wherever it sits (recent
exports write it first, older ones anywhere), and an uncounted one costs nothing more. A counted
line gets its few fields by targeted lookups instead of a full JSON decode (day_counts.py), in
the C loop or its Python twin. Any line that does not have the common shape, or whose fields
cannot be taken with certainty, goes through `exact.read_line` (the exact rules).
"""

import re
from types import ModuleType

from parsers.activity.day_counts import DayCounts, native_plans
from parsers.activity.exact import INSTANT_KEYS, count_event, read_line
from parsers.activity.raw_fields import Unsure, buffer_shape
from parsers.activity.rules import SourceTally, rulebook
from parsers.streams import Skipped

_linescan: ModuleType | None
try:
    from parsers.activity import (
        _linescan,  # the same loop in C: built by `make venv` (pyproject.toml)
    )
except ImportError:  # pragma: no cover - a checkout where the extension was not built
    _linescan = None

CHUNK_BYTES = 1024 * 1024
_EVENT_KEY = b'"event_type"'
_NAME_AT = len(_EVENT_KEY) + 2  # after `"event_type":"`
_CLEAN_NAME = re.compile(rb"[A-Za-z0-9_]+")
_MAX_PENDING = 20_000  # day counts kept before folding them into the tally
_MAX_NAMES = 4096  # cap on the cache of uncounted names (a hostile file may invent millions)


class ActivityScanner:
    """Reads one shard stream into a tally, in big buffers."""

    def __init__(self, tally: SourceTally, skipped: Skipped, max_line_bytes: int) -> None:
        book = rulebook()
        self.tally = tally
        self.skipped = skipped
        self.max_line_bytes = max_line_bytes
        self.lines = 0
        # Event name bytes -> counted event type, or "" for a cleanly spelled uncounted one.
        self.names: dict[bytes, str] = {event.encode(): event for event in book.by_type}
        self._name_table: object | None = None  # the C loop's copy of names, made when first used
        self.day_counts = DayCounts(tally, book)
        self.native_plans = native_plans(book)
        # The keys the decoded-field path (_counted) reads for each event type.
        self.keys = {
            rule.event_type: tuple(
                (key, f'"{key}":'.encode())
                for key in dict.fromkeys((*INSTANT_KEYS, *(spec.name for spec in rule.fields)))
            )
            for rule in book.rules
        }
        self.native = True  # use the C loop when it is built

    def read(self, stream) -> int:
        """Scan the whole stream; return the number of lines read.

        A stream with `read_view` (the inflater's) hands over chunks in place, (buffer, lo, hi):
        the C loop scans its slot of shared memory without a copy; others are read in chunks.
        """
        next_view = getattr(stream, "read_view", None) or (lambda: _whole(stream.read(CHUNK_BYTES)))
        carry = b""
        dropping = False  # inside a line over the limit: discard up to its end
        while True:
            buffer, lo, hi = next_view()
            if lo == hi:
                break
            if dropping:
                end = buffer.find(b"\n", lo, hi)
                if end < 0:
                    continue
                lo, dropping = end + 1, False
            start = lo
            if carry:  # the line begun in the last chunk, scanned alone: the chunk is not copied
                start = buffer.find(b"\n", lo, hi) + 1
                if start:
                    head = carry + buffer[lo:start]
                    self.scan(head, len(head))
                else:  # no line ends in this chunk
                    buffer = carry + buffer[lo:hi]
                    lo, hi = 0, len(buffer)
            cut = max(buffer.rfind(b"\n", start, hi) + 1, start)
            if cut > start:
                self.scan(buffer, cut, start, lo, hi)
                if len(self.day_counts.counts) > _MAX_PENDING:
                    self.day_counts.flush()  # bounds the memory of the day counts
            carry = buffer[cut:hi]
            if len(carry) > self.max_line_bytes:
                carry, dropping = b"", True
                self.lines += 1
                self.skipped.add("too_long")
        if carry and not dropping:
            self._line(carry)
        self.day_counts.flush()
        return self.lines

    def scan(self, buffer, stop: int, start: int = 0, lo: int = 0, hi: int = -1) -> None:
        """Handle every line of buffer[start:stop] (stop is just after a newline, start at the
        beginning of a line). buffer[lo:hi] is the chunk it is part of (all of a bytes buffer
        by default; a slot of the ring's memory is read in place by the C loop only)."""
        if _linescan is not None and self.native:
            self._scan_native(buffer, stop, start, lo, hi)
        else:
            chunk = _chunk(buffer, lo, hi)
            self._scan_python(chunk, stop - lo, start - lo)
        self.day_counts.drain()  # bounds the pending per-event lines to one buffer's

    def _scan_native(self, buffer, stop: int, pos: int = 0, lo: int = 0, hi: int = -1) -> None:
        """The C loop counts the lines it can; each line it leaves, the Python loop takes (in
        the chunk as bytes: copied once from the ring's memory when a line is left)."""
        assert _linescan is not None  # scan() calls this only when the C loop is built
        counts, shape, chunk = self.day_counts, -1, b""
        if self._name_table is None:  # made once; the names learnt later are added to it
            self._name_table = _linescan.name_table(self.names)
        while True:
            pos, lines, too_long = _linescan.scan(
                buffer, pos, stop, self.max_line_bytes, self._name_table, self.native_plans,
                counts.hour_numbers, counts.max_hour_numbers, counts.hour_of, counts.counts,
                counts.bounds, counts.pending,
            )  # fmt: skip
            self.lines += lines
            if too_long:
                self.skipped.add("too_long", too_long)
            if pos >= stop:
                return
            if shape < 0:
                chunk = _chunk(buffer, lo, hi)
                shape = buffer_shape(chunk)
            end = buffer.find(b"\n", pos, stop)
            self._scan_python(chunk, end + 1 - lo, pos - lo, shape)  # that one line
            pos = end + 1

    def _scan_python(self, buffer: bytes, stop: int, pos: int = 0, shape: int = -1) -> None:
        """The Python loop, over the lines of buffer[pos:stop]: the C loop's twin."""
        if shape < 0:
            shape = buffer_shape(buffer)
        find, names, add, limit = buffer.find, self.names, self.day_counts.add, self.max_line_bytes
        lines = 0
        while pos < stop:
            end = find(b"\n", pos)
            lines += 1
            if end - pos > limit:
                self.skipped.add("too_long")
                pos = end + 1
                continue
            at = find(_EVENT_KEY, pos, end) + _NAME_AT  # the exact reader's first match
            if at < _NAME_AT or buffer[at - 2 : at] != b':"':
                self._exact(buffer[pos : end + 1])
            else:
                quote = find(b'"', at, end)
                name = buffer[at:quote] if quote >= 0 else b"-"
                kind = names.get(name)
                if kind:
                    if not add(buffer, pos, end, kind, shape):
                        self._counted(buffer[pos:end], kind)
                elif kind is None:
                    self._odd(buffer[pos : end + 1], name)
            pos = end + 1
        self.lines += lines

    def _line(self, line: bytes) -> None:
        self.lines += 1
        self._exact(line)

    def _exact(self, line: bytes) -> None:
        """Read a line exactly, after the fast lines before it (entries keep the file's order)."""
        self.day_counts.drain()
        read_line(line, self.tally, self.skipped)

    def _odd(self, line: bytes, name: bytes) -> None:
        """A line of the common shape whose name is new: learn it, or read the line exactly."""
        if _CLEAN_NAME.fullmatch(name):
            if len(self.names) < _MAX_NAMES:
                self.names[name] = ""
                if self._name_table is not None and _linescan is not None:  # the C copy too
                    _linescan.name_table_add(self._name_table, name, "")
            return
        self._exact(line)

    def _counted(self, line: bytes, event_type: str) -> None:
        """A counted line the fast paths refused: decode only its rule's keys, if certain."""
        self.day_counts.drain()
        if _plain_object(line):
            try:
                event = {key: _field(line, pattern) for key, pattern in self.keys[event_type]}
            except Unsure:
                pass
            else:
                if count_event(event, event_type, self.tally, None):
                    return
        read_line(line, self.tally, self.skipped)


def _whole(chunk: bytes) -> tuple[bytes, int, int]:
    return chunk, 0, len(chunk)


def _chunk(buffer, lo: int, hi: int) -> bytes:
    """buffer[lo:hi] as bytes (hi -1: to its end); a bytes buffer whole is itself."""
    if isinstance(buffer, bytes) and lo == 0 and hi in (-1, len(buffer)):
        return buffer
    return bytes(buffer[lo : len(buffer) if hi < 0 else hi])


def _plain_object(line: bytes) -> bool:
    """One flat object, complete, valid UTF-8 (so a key found is a top-level key)."""
    if line[-1:] == b"\r":
        line = line[:-1]
    if (
        line[:1] != b"{"
        or line[-1:] != b"}"
        or line.find(b"{", 1) >= 0
        or line.find(b"}", 0, len(line) - 1) >= 0
    ):
        return False
    if line.isascii():
        return True
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


def _field(line: bytes, pattern: bytes) -> object:
    """The value of a top-level key as orjson would give it, or Unsure."""
    at = line.find(pattern)
    if at < 0:
        if pattern[:-1] in line:
            raise Unsure  # spaced out, or the name seen as a value: decode to be sure
        return None
    start = at + len(pattern)
    if line[at - 1] not in b",{" or line.find(pattern, start) >= 0:
        raise Unsure
    if line[start] == 0x22:  # a string
        if line[start + 1] == 0x5C and line[start + 2] == 0x22:  # "\"...\"": a quoted instant
            end = line.find(b'\\""', start + 3)
            raw = line[start + 3 : end]
            if end > 0 and b"\\" not in raw and b'"' not in raw:
                return '"' + raw.decode() + '"'
            return _escaped(line, start)
        end = line.find(b'"', start + 1)
        raw = line[start + 1 : end]
        if b"\\" in raw or end < 0:
            return _escaped(line, start)
        return raw.decode()
    if line.startswith(b"null", start) and line[start + 4 : start + 5] in (b",", b"}"):
        return None
    raise Unsure  # numbers, booleans, arrays: rare, orjson decides


_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def _escaped(line: bytes, start: int) -> str:
    """A string value holding escapes: only \\" (quoted timestamps) is undone here."""
    match = _STRING.match(line, start)
    if match is None:
        raise Unsure
    raw = match.group(1)
    if raw.count(b"\\") != raw.count(b'\\"'):
        raise Unsure
    return raw.replace(b'\\"', b'"').decode()


def read_activity_fast(stream, tally: SourceTally, skipped: Skipped, max_line_bytes: int) -> int:
    """Read one events-*.json shard into the tally; return the number of lines read."""
    return ActivityScanner(tally, skipped, max_line_bytes).read(stream)
