"""The exact reader of activity shards: a counted line is decoded and counted by its rule.

It is the reference the fast paths (scan.py, day_counts.py) are checked against, and where they
send every line they cannot read with certainty.
"""

import re

import orjson

from parsers.activity.rules import SourceTally, fold, rulebook, widen_bounds
from parsers.instants import parse_instant
from parsers.streams import Skipped, iter_lines

_EVENT_TYPE = re.compile(rb'"event_type"\s*:\s*"([A-Za-z0-9_]+)"')
# An event's instant: the first of these keys with a usable timestamp.
INSTANT_KEYS = ("timestamp", "client_track_timestamp")


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
    event_type = match.group(1).decode()
    if event_type in rulebook().by_type:
        event = _decode(line, skipped)
        if event is not None:
            count_event(event, event_type, tally, skipped)


def _unmatched(line: bytes, tally: SourceTally, skipped: Skipped) -> None:
    if b'"event_type"' in line:
        # Unusual spelling of the key or value: decode to be sure.
        event = _decode(line, skipped)
        if event is not None:
            name = event.get("event_type")
            if isinstance(name, str) and name in rulebook().by_type:
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
    """Count one decoded event by its rule; False (nothing counted) without a usable instant.

    The unusable instant is counted as skipped unless skipped is None (the caller retries).
    """
    seconds = None
    for key in INSTANT_KEYS:
        seconds = parse_instant(event.get(key))
        if seconds is not None:
            break
    if seconds is None:
        if skipped is not None:
            skipped.add("invalid_timestamp")
        return False
    rule = rulebook().by_type[event_type]
    widen_bounds(tally.bounds, rule.family, seconds)
    values = [spec.kind.read(event.get(spec.name)) for spec in rule.fields]
    fold(tally, rule, int(seconds // 86400), seconds, values)
    return True
