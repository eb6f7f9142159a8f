"""Stream the activity shards: cheap event_type matching, per-source tallies of counted events."""

import re
from collections import Counter
from dataclasses import dataclass, field

import orjson

from parsers.instants import parse_instant
from parsers.streams import Skipped, iter_lines

# Event family -> the exact event types that feed it; one source folder is chosen per family.
FAMILIES: dict[str, tuple[str, ...]] = {
    "app_opened": ("app_opened",),
    "sessions": ("session_start", "session_end"),
    "voice": ("join_voice_channel", "leave_voice_channel"),
    "join_call": ("join_call",),
    "start_call": ("start_call",),
    "guild_joined": ("guild_joined",),
    "add_reaction": ("add_reaction",),
    "message_edited": ("message_edited",),
    "message_deleted": ("message_deleted",),
    "send_message": ("send_message",),
    "application_command_used": ("application_command_used",),
    "slash_command_used": ("slash_command_used",),
    **{
        name: (name,)
        for name in (
            "notification_clicked", "email_opened", "login_successful", "app_crashed",
            "captcha_served", "user_avatar_updated", "remote_auth_login",
            "oauth2_authorize_accepted", "voice_message_recorded", "message_reported",
            "premium_upsell_viewed",
        )
    },
}  # fmt: skip
FAMILY_OF = {event: family for family, events in FAMILIES.items() for event in events}
# Fields the handlers below read from an event of each family, besides "timestamp": the fast
# paths (scan.py, day_counts.py) take only these without decoding the line.
FAMILY_FIELDS: dict[str, tuple[str, ...]] = {
    "app_opened": ("os",),
    "sessions": ("os",),
    "voice": ("channel_id", "guild_id", "client_track_timestamp"),
    "add_reaction": ("emoji_name", "emoji_id"),
    "guild_joined": ("guild_id",),
    "application_command_used": ("application_id",),
    "slash_command_used": ("application_id",),
}
_COUNTED = {event.encode(): event for event in FAMILY_OF}
_EVENT_TYPE = re.compile(rb'"event_type"\s*:\s*"([A-Za-z0-9_]+)"')


@dataclass
class SourceTally:
    """Everything counted from one source folder (analytics, modeling, reporting or tns)."""

    events: dict[str, Counter[int]] = field(default_factory=dict)
    app_opens: Counter[tuple[int, str]] = field(default_factory=Counter)
    sessions: list[tuple[float, bool, str]] = field(default_factory=list)
    voice: list[tuple[float, bool, str, str | None]] = field(default_factory=list)
    reactions: Counter[tuple[int, str, str | None]] = field(default_factory=Counter)
    guilds_joined: Counter[tuple[int, str]] = field(default_factory=Counter)
    applications: Counter[str] = field(default_factory=Counter)
    bounds: dict[str, list[float]] = field(default_factory=dict)  # family -> [first, last]

    def families(self) -> set[str]:
        """Return the families with at least one event in this source."""
        return {FAMILY_OF[event] for event, days in self.events.items() if days}


def read_activity(stream, tally: SourceTally, skipped: Skipped, max_line_bytes: int) -> int:
    """Read one events-*.json shard line by line (the reference reader; see scan.py)."""
    lines = 0
    for line in iter_lines(stream, max_line_bytes):
        lines += 1
        if line is None:
            skipped.add("too_long")
        else:
            read_line(line, tally, skipped)
    return lines


def read_line(line: bytes, tally: SourceTally, skipped: Skipped) -> None:
    """Count one line exactly: the first event_type match decides, counted lines are decoded."""
    match = _EVENT_TYPE.search(line)
    if match is None:
        _unmatched(line, tally, skipped)
        return
    event_type = _COUNTED.get(match.group(1))
    if event_type is not None:
        event = _decode(line, skipped)
        if event is not None:
            count_event(event, event_type, tally, skipped)


def _unmatched(line: bytes, tally: SourceTally, skipped: Skipped) -> None:
    if b'"event_type"' in line:
        # Unusual spelling of the key or value: decode to be sure.
        event = _decode(line, skipped)
        if event is not None:
            name = event.get("event_type")
            if isinstance(name, str) and name in FAMILY_OF:
                count_event(event, name, tally, skipped)
            elif not isinstance(name, str):
                skipped.add("no_event_type")
        return
    if line.strip():
        skipped.add("no_event_type")


def _decode(line: bytes, skipped: Skipped) -> dict | None:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            skipped.add("invalid_utf8")
            return None
        skipped.add("invalid_json")
        return None
    if not isinstance(event, dict):
        skipped.add("invalid_json")
        return None
    return event


def count_event(event: dict, event_type: str, tally: SourceTally, skipped: Skipped | None) -> bool:
    """Count one decoded event; False (and nothing counted) when it has no usable timestamp.

    The unusable timestamp is counted as skipped unless skipped is None (the caller retries).
    """
    seconds = parse_instant(event.get("timestamp"))
    if seconds is None:
        seconds = parse_instant(event.get("client_track_timestamp"))
    if seconds is None:
        if skipped is not None:
            skipped.add("invalid_timestamp")
        return False
    day = int(seconds // 86400)
    days = tally.events.get(event_type)
    if days is None:
        days = tally.events[event_type] = Counter()
    days[day] += 1
    family = FAMILY_OF[event_type]
    widen_bounds(tally.bounds, family, seconds)
    handler = _HANDLERS.get(family)
    if handler is not None:
        handler(event, event_type, seconds, day, tally)
    return True


def _app_opened(event: dict, _type: str, _seconds: float, day: int, tally: SourceTally) -> None:
    tally.app_opens[(day, _os(event))] += 1


def _session(event: dict, event_type: str, seconds: float, _day: int, tally: SourceTally) -> None:
    tally.sessions.append((seconds, event_type == "session_start", _os(event)))


def _voice(event: dict, event_type: str, seconds: float, _day: int, tally: SourceTally) -> None:
    channel_id = text_field(event.get("channel_id"))
    if channel_id is None:
        return
    at = parse_instant(event.get("client_track_timestamp"))
    joined = event_type == "join_voice_channel"
    tally.voice.append(
        (seconds if at is None else at, joined, channel_id, text_field(event.get("guild_id")))
    )


def _reaction(event: dict, _type: str, _seconds: float, day: int, tally: SourceTally) -> None:
    name = text_field(event.get("emoji_name")) or "unknown"
    tally.reactions[(day, name, text_field(event.get("emoji_id")))] += 1


def _guild_joined(event: dict, _type: str, _seconds: float, day: int, tally: SourceTally) -> None:
    tally.guilds_joined[(day, text_field(event.get("guild_id")) or "")] += 1


def _command(event: dict, _type: str, _seconds: float, _day: int, tally: SourceTally) -> None:
    application = text_field(event.get("application_id"))
    if application is not None and application != "-1":
        tally.applications[application] += 1


_HANDLERS = {
    "app_opened": _app_opened,
    "sessions": _session,
    "voice": _voice,
    "add_reaction": _reaction,
    "guild_joined": _guild_joined,
    "application_command_used": _command,
    "slash_command_used": _command,
}


def _os(event: dict) -> str:
    return text_field(event.get("os")) or "unknown"


def widen_bounds(bounds: dict, key, value) -> None:
    """Stretch the [first, last] pair of `key` in `bounds` to include `value`."""
    pair = bounds.get(key)
    if pair is None:
        bounds[key] = [value, value]
    elif value < pair[0]:
        pair[0] = value
    elif value > pair[1]:
        pair[1] = value


def text_field(value: object) -> str | None:
    """Return an event field as text; None for absent, empty, null or the string "null"."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().strip('"')
    return None if text in ("", "null", "None") else text


def raw_text_field(raw: bytes | None) -> str | None:
    """Return text_field of a raw field value taken from the line bytes (None when absent)."""
    return None if raw is None else text_field(raw.decode())
