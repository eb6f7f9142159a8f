"""Build the package-wide views: about, overview, stats:<period> and top:<type>:<period>."""

from collections import Counter

from parsers.aggregate.daily import merge_daily
from parsers.aggregate.entities import Entities
from parsers.aggregate.package_data import PackageData
from parsers.aggregate.periods import Period, merge, message_blocks, voice_blocks
from parsers.instants import instant_to_iso
from parsers.sources.account import payment_totals, relationship_counts
from parsers.sources.channels import UNKNOWN_GUILD

TOP_TYPES = ("dms", "guilds", "channels")


def about_view(data: PackageData) -> dict:
    """Return the `about` view without processing_seconds."""
    owner = data.account.owner
    instant = data.package_instant
    return {
        "package_id": data.package_id,
        "owner": None
        if owner is None
        else {
            "id": owner.id,
            "username": owner.username,
            "display_name": owner.display_name,
            "avatar_url": owner.avatar_url,
        },
        "package_date": None if instant is None else instant_to_iso(instant),
        "layout": data.layout,
        "folder_language": data.folder_language,
        "is_partial": bool(data.missing),
        "missing_sections": list(data.missing),
        "activity_sources": dict(data.activity.sources),
        "read": {
            "files": {
                key: data.files.get(key, 0)
                for key in ("messages", "channels", "activity", "account", "servers")
            },
            "lines": {"messages": data.message_records, "activity": data.activity_lines},
            "skipped": data.skipped.as_dict(),
        },
    }


def top_entries(data: PackageData, entities: Entities, kind: str, period: str) -> list[dict]:
    """Return the ranked entries of one top list for one period: most messages first, then
    most voice minutes, then by id (unique in a list, so the rows themselves are never
    compared)."""
    rows = []
    if kind == "channels":
        totals = entities.totals[period]
        for entry in entities.channels.values():
            messages, minutes = totals[entry.channel_id]
            if messages or minutes > 0:
                rows.append(
                    (-messages, -minutes, entry.channel_id, _channel_row(entry, messages, minutes))
                )
    elif kind == "guilds":
        for guild in entities.guilds.values():
            messages, minutes, active = entities.group_totals(guild, period)
            if messages or minutes > 0:
                row = _guild_row(guild, active, messages, minutes)
                rows.append((-messages, -minutes, guild.key, row))
    else:
        for person in entities.people.values():
            messages, minutes, _active = entities.group_totals(person, period)
            if messages or minutes > 0:
                rows.append(
                    (-messages, -minutes, person.key, _person_row(person, messages, minutes))
                )
    rows.sort()
    return [row[3] for row in rows]


def _channel_row(entry, messages: int, minutes: float) -> dict:
    row = channel_fields(entry)  # a fresh dict: completed in place
    row["messages"] = messages
    row["voice_minutes"] = round(minutes, 1)
    return row


def channel_fields(entry) -> dict:
    """Return the channel_id, name, kind and (for a server channel) guild of a channel."""
    in_guild = entry.kind == "guild"
    return {
        "channel_id": entry.channel_id,
        "name": entry.name,
        "kind": entry.kind,
        "guild_id": entry.guild_id if in_guild else None,
        "guild_name": entry.guild_name if in_guild else None,
    }


def _guild_row(guild, active: int, messages: int, minutes: float) -> dict:
    return {
        "guild_id": guild.key,
        "name": guild.name,
        "channels": active,
        "messages": messages,
        "voice_minutes": round(minutes, 1),
    }


def _person_row(person, messages: int, minutes: float) -> dict:
    return {**person_fields(person), "messages": messages, "voice_minutes": round(minutes, 1)}


def person_fields(person) -> dict:
    """Return the user_id, names, avatar and channel_ids of a DM person."""
    return {
        "user_id": person.key,
        "username": person.person.username if person.person else None,
        "display_name": person.person.display_name if person.person else None,
        "avatar_url": person.person.avatar_url if person.person else None,
        "channel_ids": sorted(person.channel_ids),
    }


def stats_views(data: PackageData, entities: Entities, periods: dict[str, Period]) -> dict:
    """Return the `stats:<period>` view of every period."""
    channels = entities.channels.values()
    # Stored zero-filled, as served: the API sends these views' sealed text as it is.
    messages = message_blocks(merge_daily(entry.daily for entry in channels), periods, sparse=False)
    voice = voice_blocks(merge(entry.voice for entry in channels), periods, sparse=False)
    return {
        name: _stats_view(data, entities, period, messages[name], voice[name])
        for name, period in periods.items()
    }


def _stats_view(
    data: PackageData, entities: Entities, period: Period, messages: dict, voice: dict
) -> dict:
    activity = data.activity
    return {
        "period": period.name,
        **period.header(),
        "messages": messages,
        "voice": voice,
        "reactions": _reactions(activity.reactions, period),
        "sessions": _sessions(activity.session_starts, activity.session_minutes, period),
        "app_opens": _app_opens(activity.app_opens, period),
        "servers_joined": _servers_joined(activity.guilds_joined, period),
        **_active_counts(entities, period.name),
        "events": _events(activity.events, period),
    }


def overview_view(data: PackageData, entities: Entities, lifetime: dict, tops: dict) -> dict:
    """Return the `overview` view from the lifetime stats and the lifetime top lists."""
    relations = relationship_counts(data.account)
    first, last = data.first_message, data.last_message
    return {
        "messages": lifetime["messages"]["total"],
        "active_days": lifetime["messages"]["active_days"],
        "first_message_at": None if first is None else instant_to_iso(first),
        "last_message_at": None if last is None else instant_to_iso(last),
        "people_messaged": lifetime["people_active"],
        "servers": lifetime["servers_active"],
        "channels": lifetime["channels_active"],
        "voice_minutes": lifetime["voice"]["minutes"],
        "sessions": lifetime["sessions"],
        "app_opens": lifetime["app_opens"],
        "reactions": lifetime["reactions"]["total"],
        "servers_joined": lifetime["servers_joined"],
        "friends": relations.get("FRIEND", 0),
        "blocked": relations.get("BLOCKED", 0),
        "payments": payment_totals(data.account),
        "top": {kind: entries[:3] for kind, entries in tops.items()},
    }


def _reactions(reactions: Counter, period: Period) -> dict:
    emojis: Counter = Counter()
    start, end = _bounds(period)
    for (day, name, emoji_id, _channel), count in reactions.items():
        if start <= day <= end:
            emojis[(name, emoji_id)] += count
    ranked = sorted(emojis.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
    top = [
        {"name": name, "id": emoji_id, "custom": emoji_id is not None, "count": count}
        for (name, emoji_id), count in ranked[:10]
    ]
    return {"total": sum(emojis.values()), "top_emojis": top}


def _sessions(starts: Counter, minutes: Counter, period: Period) -> dict:
    by_os: dict[str, dict] = {}
    start, end = _bounds(period)
    for (day, os_name), count in starts.items():
        if start <= day <= end:
            by_os.setdefault(os_name, {"count": 0, "minutes": 0.0})["count"] += count
    for (day, os_name), value in minutes.items():
        if start <= day <= end:
            by_os.setdefault(os_name, {"count": 0, "minutes": 0.0})["minutes"] += value
    total_minutes = float(sum(item["minutes"] for item in by_os.values()))
    for item in by_os.values():
        item["minutes"] = round(item["minutes"], 1)
    return {
        "count": sum(item["count"] for item in by_os.values()),
        "minutes": round(total_minutes, 1),
        "by_os": dict(sorted(by_os.items())),
    }


def _app_opens(opens: Counter, period: Period) -> dict:
    by_os: Counter[str] = Counter()
    start, end = _bounds(period)
    for (day, os_name), count in opens.items():
        if start <= day <= end:
            by_os[os_name] += count
    return {"total": sum(by_os.values()), "by_os": dict(sorted(by_os.items()))}


def _servers_joined(joined: Counter, period: Period) -> int:
    # Distinct servers; events without a guild id count one each.
    start, end = _bounds(period)
    guilds = {guild for (day, guild) in joined if guild and start <= day <= end}
    anonymous = sum(
        count for (day, guild), count in joined.items() if not guild and start <= day <= end
    )
    return len(guilds) + anonymous


def _active_counts(entities: Entities, period: str) -> dict:
    totals = entities.totals[period]
    channels = [entry for entry in entities.channels.values() if totals[entry.channel_id][0]]
    people = {entry.person_id for entry in channels if entry.kind == "dm" and entry.person_id}
    servers = {
        entry.guild_id
        for entry in channels
        if entry.kind == "guild" and entry.guild_id not in (None, UNKNOWN_GUILD)
    }
    return {
        "people_active": len(people),
        "channels_active": len(channels),
        "servers_active": len(servers),
    }


def _events(events: dict[str, Counter], period: Period) -> dict:
    start, end = _bounds(period)
    counts = {
        name: sum(c for day, c in days.items() if start <= day <= end)
        for name, days in events.items()
    }
    return {name: count for name, count in sorted(counts.items()) if count}


def _bounds(period: Period) -> tuple[float, float]:
    """(first, last) day of the period, both included, for inline `start <= day <= end` tests
    (no call per key); a range that holds no day for a period of no days."""
    if period.start is None or period.end is None:
        return 1.0, 0.0
    return period.start, period.end
