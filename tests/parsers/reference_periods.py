"""The reference the period blocks are checked against: one zero-filled list per period.

This is how the blocks were first computed, straight from the hour and day counters read from
the package (one pass per period over every key, a zero-filled per-day list, every day rounded):
slow for long histories and many entities, obviously right. `reference_views` rebuilds every
stats and entity view's blocks this way, to compare with what the API serves of the new ones.
"""

from collections import Counter

from parsers.aggregate.periods import PERIODS, Period, entity_lifetime, make_periods, merge
from parsers.instants import day_of
from parsers.package import PackageAnalysis


def message_block(hours: Counter[int], period: Period) -> dict:
    """The messages block of one period (total, per_day, per_hour, per_weekday, active, average)."""
    per_day = [0] * period.days
    per_hour = [0] * 24
    per_weekday = [0] * 7
    if period.start is not None:
        start, low, high = period.start, period.start * 24, period.end * 24 + 23
        for key, count in hours.items():
            if low <= key <= high:
                day = key // 24
                per_day[day - start] += count
                per_hour[key % 24] += count
                per_weekday[(day + 3) % 7] += count  # day 0, 1970-01-01, was a Thursday
    total = sum(per_day)
    active = len(per_day) - per_day.count(0)
    return {
        "total": total,
        "per_day": per_day,
        "per_hour": per_hour,
        "per_weekday": per_weekday,
        "active_days": active,
        "average_per_active_day": round(total / active, 2) if active else 0,
    }


def voice_block(minutes: Counter[int], period: Period) -> dict:
    """The voice block of one period (minutes and zero-filled per_day minutes)."""
    per_day = [0.0] * period.days
    start, end = period.start, period.end
    seen = False
    if start is not None:
        for day, value in minutes.items():
            if start <= day <= end:
                per_day[day - start] += value
                seen = True
    total = round(float(sum(per_day)), 1)
    if seen:
        per_day = [round(value, 1) for value in per_day]
    return {"minutes": total, "per_day": per_day}


def reference_message_blocks(hour_counters: list[Counter], periods: dict[str, Period]) -> dict:
    """The message block of each period, one period at a time over the summed counters."""
    merged = merge(hour_counters)
    return {name: message_block(merged, period) for name, period in periods.items()}


def reference_voice_blocks(minutes: Counter, periods: dict[str, Period]) -> dict:
    """The voice block of each period, one period at a time."""
    return {name: voice_block(minutes, period) for name, period in periods.items()}


def reference_views(analysis: PackageAnalysis, views: dict[str, dict]) -> dict[str, dict]:
    """The views with every stats and entity block rebuilt by the reference functions."""
    data = analysis._data  # the counters as read, before any view was built from them
    instant = data.package_instant
    periods = make_periods(None if instant is None else day_of(instant), data.first_day)
    channel_ids = set(data.channels) | set(data.message_hours) | set(data.activity.voice)
    rebuilt = {}
    for name, document in views.items():
        kind, _, key = name.partition(":")
        if kind == "stats":
            hours, voice = _counters(data, channel_ids)
            rebuilt[name] = {
                **document,
                "messages": message_block(merge(hours), periods[key]),
                "voice": voice_block(voice, periods[key]),
            }
        elif kind in ("guild", "dm", "channel"):
            hours, voice = _counters(data, _channels_of(kind, key, document))
            rebuilt[name] = {**document, "periods": _entity_periods(hours, voice, periods)}
        else:
            rebuilt[name] = document
    return rebuilt


def _channels_of(kind: str, key: str, document: dict) -> list[str]:
    if kind == "guild":
        return [channel["channel_id"] for channel in document["channels"]]
    return document["channel_ids"] if kind == "dm" else [key]


def _counters(data, channel_ids) -> tuple[list[Counter], Counter]:
    """Hour counters and summed voice minutes of channels, added in channel id order as before."""
    ordered = sorted(channel_ids)
    hours = [data.message_hours.get(channel_id, Counter()) for channel_id in ordered]
    return hours, merge(data.activity.voice.get(channel_id, Counter()) for channel_id in ordered)


def _entity_periods(hours: list[Counter], voice: Counter, periods: dict[str, Period]) -> dict:
    firsts = [min(counter) // 24 for counter in hours if counter] + ([min(voice)] if voice else [])
    own = {name: periods[name] for name in PERIODS}
    own["lifetime"] = entity_lifetime(periods["lifetime"].end, min(firsts, default=None))
    merged = merge(hours)
    return {
        name: {
            **period.header(),
            "messages": message_block(merged, period),
            "voice": voice_block(voice, period),
        }
        for name, period in own.items()
    }
