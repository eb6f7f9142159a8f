"""Count usual-shape activity lines per (event type, day, raw fields), without decoding them.

A counted line of the usual shape (one flat object, `"timestamp":"\\"YYYY-MM-DDTHH:MM:SS.fffZ\\""`,
plain string values; for a duplicate key the last one counts, as in orjson) is counted under
(event type, day number, raw fields) in a dict. Each distinct hour prefix is parsed once;
family bounds are the min/max of the timestamp texts (fixed width, so they sort like
instants) and are parsed once at the end.
`DayCounts.flush` turns all of it into the same SourceTally entries `count_event` would make.
A line that does not fit returns False and the caller takes the exact path.
"""

from collections import Counter

from parsers.activity.rules import (
    FAMILIES,
    FAMILY_FIELDS,
    FAMILY_OF,
    SourceTally,
    raw_text_field,
    widen_bounds,
)
from parsers.instants import parse_instant

_STAMP = b'"timestamp":'
_STAMP_OPEN = b'"\\"'
_STAMP_END = b'\\""'
_WIDTH = 24  # YYYY-MM-DDTHH:MM:SS.fffZ
_STAMP_SKIP = len(_STAMP) + len(_STAMP_OPEN)
# Every digit becomes "0": a well-formed stamp then reads exactly _SHAPE.
_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else byte for byte in range(256))
_SHAPE = b"0000-00-00T00:00:00.000Z"
_MAX_HOUR_NUMBERS = 500_000  # cap on the hour cache (a hostile file may invent many prefixes)
# Voice events (few, and their client_track_timestamp is needed too) always take the exact path.
_EXACT_ONLY = frozenset({"voice"})
_SESSIONS = frozenset(FAMILIES["sessions"])
_COMMANDS = frozenset({"application_command_used", "slash_command_used"})
PLANS: dict[str, tuple[bytes, ...]] = {
    event: tuple(f'"{key}":'.encode() for key in FAMILY_FIELDS.get(family, ()))
    for event, family in FAMILY_OF.items()
    if family not in _EXACT_ONLY
}
# What the C loop (parsers/activity/_linescan.c) is given: event type -> (role, field keys).
# Roles: 0 counted, 1 session start, 2 session end, 3 voice (its fields go to a callback).
_ROLES = {"session_start": 1, "session_end": 2}
NATIVE_PLANS: dict[str, tuple[int, tuple[bytes, ...]]] = {
    **{event: (_ROLES.get(event, 0), plan) for event, plan in PLANS.items()},
    **dict.fromkeys(FAMILIES["voice"], (3, (b'"channel_id":', b'"guild_id":'))),
}


class Unsure(Exception):
    """A field cannot be taken without a full decode (the line takes the exact path)."""


class DayCounts:
    """Fast-path line counts of one tally per (event type, day, fields), folded in by flush()."""

    def __init__(self) -> None:
        self.counts: dict[tuple, int] = {}
        self.bounds: dict[str, list[bytes]] = {}  # event type -> [lowest, highest] text
        self.hour_numbers: dict[bytes, int | None] = {}  # hour prefix -> number, None if unusable
        self.sessions: list[tuple[bytes, bool, bytes | None]] = []  # (stamp, started, os)

    def add(self, buffer: bytes, pos: int, end: int, event_type: str, shape: int) -> bool:
        """Count the line buffer[pos:end] (no newline) if it has the usual shape.

        shape is buffer_shape(buffer): what the whole buffer may hold.
        """
        plan = PLANS.get(event_type)
        if plan is None or buffer[end - 1] != 0x7D:
            return False
        if shape & _SPACED and _spaced(buffer, pos, end):
            return False
        at = buffer.rfind(_STAMP, pos, end)  # orjson keeps the last of duplicate keys
        start = at + _STAMP_SKIP
        stamp = buffer[start : start + _WIDTH]
        if (
            at < 0
            or stamp.translate(_MASK) != _SHAPE
            or stamp[14] > 0x35  # minutes 60-99
            or stamp[17] > 0x35  # seconds 60-99: a leap second may end the day
            or buffer[at - 1] != 0x2C
            or not buffer.startswith(_STAMP_OPEN, start - 3)
            or not buffer.startswith(_STAMP_END, start + _WIDTH)
            or buffer.find(b"{", pos + 1, end) >= 0
            or buffer.find(b"}", pos, end - 1) >= 0  # flat: any other brace is invalid JSON
            or (shape and not _utf8(buffer, pos, end))
        ):
            return False
        hour = self.hour_numbers.get(stamp[:13], -1)
        if hour == -1:
            hour = self.hour_of(stamp[:13])
        if hour is None:
            return False
        if plan:
            try:
                key = (event_type, hour // 24, *[_field(buffer, pos, end, key) for key in plan])
            except Unsure:
                return False
        else:
            key = (event_type, hour // 24)
        self.counts[key] = self.counts.get(key, 0) + 1
        if event_type in _SESSIONS:
            self.sessions.append((stamp, event_type == "session_start", key[2]))
        # widen_bounds inlined: this runs once per counted line
        bounds = self.bounds.get(event_type)
        if bounds is None:
            self.bounds[event_type] = [stamp, stamp]
        elif stamp < bounds[0]:
            bounds[0] = stamp
        elif stamp > bounds[1]:
            bounds[1] = stamp
        return True

    def hour_of(self, prefix: bytes) -> int | None:
        """The hour number of a YYYY-MM-DDTHH prefix (None if unusable), cached."""
        seconds = None
        if prefix.isascii() and len(prefix) == 13:
            seconds = parse_instant(prefix.decode() + ":00:00Z")
        hour = None if seconds is None else int(seconds) // 3600
        if len(self.hour_numbers) < _MAX_HOUR_NUMBERS:
            self.hour_numbers[prefix] = hour
        return hour

    def flush(self, tally: SourceTally) -> None:
        """Add everything counted to the tally, as count_event would have, and reset."""
        texts: dict[bytes | None, str | None] = {None: None}
        for (event_type, day, *fields), count in self.counts.items():
            for raw in fields:
                if raw not in texts:
                    texts[raw] = raw_text_field(raw)
            _fold(tally, event_type, day, [texts[raw] for raw in fields], count)
        for event_type, (low, high) in self.bounds.items():
            _widen(tally, FAMILY_OF[event_type], parse_instant(low.decode()))
            _widen(tally, FAMILY_OF[event_type], parse_instant(high.decode()))
        for stamp, started, raw in self.sessions:
            seconds = parse_instant(stamp.decode())
            tally.sessions.append((seconds, started, raw_text_field(raw) or "unknown"))  # type: ignore[arg-type]
        self.counts.clear()
        self.bounds.clear()
        self.sessions.clear()


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


def _spaced(buffer: bytes, pos: int, end: int) -> bool:
    """A tab or CR in the line (the C loop checks the same, per line)."""
    return buffer.find(b"\t", pos, end) >= 0 or buffer.find(b"\r", pos, end) >= 0


def _utf8(buffer: bytes, pos: int, end: int) -> bool:
    """Valid UTF-8 (orjson would refuse anything else)."""
    try:
        buffer[pos:end].decode()
    except UnicodeDecodeError:
        return False
    return True


def _field(buffer: bytes, pos: int, end: int, pattern: bytes) -> bytes | None:
    """The raw text of a top-level string field, None when absent or null, else Unsure.

    The line is flat and starts with event_type: so, in compact JSON, the last `"key":` is the
    key orjson keeps (the last duplicate wins).
    """
    at = buffer.rfind(pattern, pos, end)
    if at < 0:
        return None
    start = at + len(pattern)
    if buffer[at - 1] != 0x2C:
        raise Unsure
    if buffer[start] == 0x22:
        close = buffer.find(b'"', start + 1, end)
        raw = buffer[start + 1 : close]
        if close < 0 or b"\\" in raw:
            raise Unsure
        return raw
    if buffer.startswith(b"null", start) and buffer[start + 4] in b",}":
        return None
    raise Unsure  # numbers, booleans, arrays: rare, orjson decides


def _fold(tally: SourceTally, event_type: str, day: int, fields: list, count: int) -> None:
    days = tally.events.get(event_type)
    if days is None:
        days = tally.events[event_type] = Counter()
    days[day] += count
    family = FAMILY_OF[event_type]
    if family == "app_opened":
        tally.app_opens[(day, fields[0] or "unknown")] += count
    elif family == "add_reaction":
        tally.reactions[(day, fields[0] or "unknown", fields[1])] += count
    elif family == "guild_joined":
        tally.guilds_joined[(day, fields[0] or "")] += count
    elif family in _COMMANDS and fields[0] is not None and fields[0] != "-1":
        tally.applications[fields[0]] += count


def _widen(tally: SourceTally, family: str, seconds: float | None) -> None:
    if seconds is None:  # cannot happen for a validated text; keep the tally consistent anyway
        return
    widen_bounds(tally.bounds, family, seconds)
