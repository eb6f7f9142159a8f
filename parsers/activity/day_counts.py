"""Count usual-shape activity lines without decoding them: the fast paths' plans and counts.

A counted line of the usual shape (one flat object of compact JSON, `"timestamp":"\\"YYYY-MM-DD
THH:MM:SS.fffZ\\""`, its fields plain strings or null; for a duplicate key the last one counts,
as in orjson) is read by the plan its rule gets here, in Python (`DayCounts.add`) or in C
(`native_plans`, parsers/activity/_linescan.c). A line of a per-event rule is kept as
(event type, hour, stamp, raw fields) in `pending`, folded by `DayCounts.drain` before the
scanner reads any line exactly, so entries keep the file's order; any other is counted under
(event type, day number, raw fields) and folded by `DayCounts.flush`, each distinct key once,
with its count. Each distinct hour prefix
is parsed once; family bounds are the min/max of the timestamp texts (fixed width, so they
sort like instants), parsed at flush. A line that does not fit returns False: the caller takes
the exact path.
"""

from typing import NamedTuple

from parsers.activity.rules import Rule, Rulebook, SourceTally, fold, widen_bounds
from parsers.instants import parse_instant

_STAMP = b'"timestamp":'
_STAMP_OPEN = b'"\\"'
_STAMP_END = b'\\""'
_WIDTH = 24  # YYYY-MM-DDTHH:MM:SS.fffZ
# Every digit becomes "0": a well-formed stamp then reads exactly _SHAPE.
_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else byte for byte in range(256))
_SHAPE = b"0000-00-00T00:00:00.000Z"
_MAX_HOUR_NUMBERS = 500_000  # cap on the hour cache (a hostile file may invent many prefixes)
_MAX_VALUES = 100_000  # cap on the cache of field values read (ids and names repeat)


class Unsure(Exception):
    """A field cannot be taken without a full decode (the line takes the exact path)."""


class FastPlan(NamedTuple):
    """How the Python loop reads a rule's lines: per event or counted, and each field."""

    per_event: bool
    fields: tuple  # (b'"key":', reader of its raw value) per field of the rule


def _pattern(name: str) -> bytes:
    return f'"{name}":'.encode()


def fast_plans(book: Rulebook) -> dict[str, FastPlan]:
    """The Python loop's plan of every rule whose field kinds it reads."""
    return {
        rule.event_type: FastPlan(
            rule.per_event,
            tuple((_pattern(spec.name), _READERS[spec.kind.name]) for spec in rule.fields),
        )
        for rule in book.rules
        if all(spec.kind.name in _READERS for spec in rule.fields)
    }


def native_plans(book: Rulebook) -> dict[str, tuple[int, tuple[tuple[bytes, int], ...]]]:
    """The C loop's plans: event type -> (per event, ((b'"key":', kind code), ...)).

    A rule with a field kind the C loop cannot read gets none: the C loop leaves its lines to
    the Python loop, which reads them or sends them to the exact path.
    """
    return {
        rule.event_type: (
            int(rule.per_event),
            tuple((_pattern(spec.name), spec.kind.native) for spec in rule.fields),
        )
        for rule in book.rules
        if all(spec.kind.native is not None for spec in rule.fields)
    }


class DayCounts:
    """Fast-path counts of one tally per (event type, day, fields), folded in by flush()."""

    def __init__(self, tally: SourceTally, book: Rulebook) -> None:
        self.tally = tally
        self.book = book
        self.plans = fast_plans(book)
        self.counts: dict[tuple, int] = {}
        self.bounds: dict[str, list[bytes]] = {}  # event type -> [lowest, highest] text
        self.hour_numbers: dict[bytes, int | None] = {}  # hour prefix -> number, None if unusable
        self.known: dict[tuple, object] = {}  # (Kind.read, raw text) -> value
        self.pending: list[tuple] = []  # (event type, hour, stamp, *raw fields) per event

    def add(self, buffer: bytes, pos: int, end: int, event_type: str, shape: int) -> bool:
        """Count the line buffer[pos:end] (no newline) if it has the usual shape.

        shape is buffer_shape(buffer): what the whole buffer may hold.
        """
        plan = self.plans.get(event_type)
        if plan is None:
            return False
        if buffer[end - 1] == 0x0D:  # a CRLF line end
            end -= 1
        # One object without nested ones, so a key found is a top-level key. A brace anywhere
        # else, even inside a string, sends the line to the exact path (outside a string it is
        # invalid JSON, which orjson refuses).
        if (
            buffer[pos] != 0x7B
            or buffer[end - 1] != 0x7D
            or buffer.find(b"{", pos + 1, end) >= 0
            or buffer.find(b"}", pos, end - 1) >= 0
            or (shape and not _clean(buffer, pos, end, shape))
        ):
            return False
        at = buffer.rfind(_STAMP, pos, end)  # orjson keeps the last of duplicate keys
        if at < 0 or (buffer[at - 1] != 0x2C and at != pos + 1):
            return False
        stamp = _stamp(buffer, at + len(_STAMP), end)
        if stamp is None:
            return False
        hour = self.hour_numbers.get(stamp[:13], -1)
        if hour == -1:
            hour = self.hour_of(stamp[:13])
        if hour is None:
            return False
        try:
            raws = [read(buffer, pos, end, key) for key, read in plan.fields]
        except Unsure:
            return False
        if plan.per_event:
            self.pending.append((event_type, hour, stamp, *raws))
        else:
            key = (event_type, hour // 24, *raws)
            self.counts[key] = self.counts.get(key, 0) + 1
        # widen_bounds inlined: this runs once per counted line
        bounds = self.bounds.get(event_type)
        if bounds is None:
            self.bounds[event_type] = [stamp, stamp]
        elif stamp < bounds[0]:
            bounds[0] = stamp
        elif stamp > bounds[1]:
            bounds[1] = stamp
        return True

    def drain(self) -> None:
        """Fold the pending per-event lines into the tally, in file order."""
        tally, rules, values = self.tally, self.book.by_type, self.values
        for event_type, hour, stamp, *raws in self.pending:
            # parse_instant's very arithmetic on a validated stamp (tests check they agree)
            minutes, seconds, millis = int(stamp[14:16]), int(stamp[17:19]), int(stamp[20:23])
            instant = hour * 3600 + minutes * 60 + seconds + millis / 1000
            rule = rules[event_type]
            fold(tally, rule, hour // 24, instant, values(rule, raws))
        self.pending.clear()

    def values(self, rule: Rule, raws) -> list:
        """The values the fold takes from raw field texts (None when absent), read once each."""
        known, values = self.known, []
        for read, raw in zip(rule.layout.readers, raws, strict=True):
            if raw is None:
                values.append(None)
                continue
            value = known.get((read, raw), known)
            if value is known:
                value = read(raw.decode())
                if len(known) >= _MAX_VALUES:
                    known.clear()
                known[read, raw] = value
            values.append(value)
        return values

    def hour_of(self, prefix: bytes) -> int | None:
        """The hour number of a YYYY-MM-DDTHH prefix (None if unusable), cached."""
        seconds = None
        if prefix.isascii() and len(prefix) == 13:
            seconds = parse_instant(prefix.decode() + ":00:00Z")
        hour = None if seconds is None else int(seconds) // 3600
        if len(self.hour_numbers) < _MAX_HOUR_NUMBERS:
            self.hour_numbers[prefix] = hour
        return hour

    def flush(self) -> None:
        """Fold everything counted into the tally, each distinct key once, and reset."""
        self.drain()
        by_type = self.book.by_type
        for (event_type, day, *raws), count in self.counts.items():
            rule = by_type[event_type]
            fold(self.tally, rule, day, None, self.values(rule, raws), count)
        for event_type, texts in self.bounds.items():
            for text in texts:
                seconds = parse_instant(text.decode())
                if seconds is not None:  # always, for a validated text
                    widen_bounds(self.tally.bounds, by_type[event_type].family, seconds)
        self.counts.clear()
        self.bounds.clear()


_SPACED = 1  # a tab or carriage return in the buffer: each line is checked for one
_NON_ASCII = 2


def buffer_shape(buffer: bytes) -> int:
    """Flags for what a buffer of lines may hold; only memchr-speed checks (never per line).

    Compact JSON (Discord's) has no whitespace outside strings. A raw tab or CR can only be
    whitespace between tokens (or invalid JSON), so a line with one takes the exact path.
    Spaces are not checked (they are common inside strings): see docs/performance-notes.md.
    """
    shape = 0 if buffer.isascii() else _NON_ASCII
    if buffer.find(b"\t") >= 0 or buffer.find(b"\r") >= 0:
        shape |= _SPACED
    return shape


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
        stamp.translate(_MASK) != _SHAPE
        or stamp[14] > 0x35  # minutes 60-99
        or stamp[17] > 0x35  # seconds 60-99: a leap second may end the day
        or not buffer.startswith(_STAMP_OPEN, start, end)
        or not buffer.startswith(_STAMP_END, start + 3 + _WIDTH, end)
    ):
        return None
    return stamp


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
    start = at + len(key)
    if buffer[start] == 0x22:
        close = buffer.find(b'"', start + 1, end)
        raw = buffer[start + 1 : close]
        if close < 0 or b"\\" in raw:
            raise Unsure
        return raw
    return _plain(buffer, start, end)


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


# The Python loop's reader of each field kind (a kind missing here sends its rules' lines to
# the exact path).
_READERS = {"text": _text, "instant": _instant}
