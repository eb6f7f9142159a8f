"""Build the per-entity views: guild, dm, dm_channel, channel and user."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

from parsers.aggregate.daily import DailyMessages, merge_daily
from parsers.aggregate.entities import Entities, GroupEntry
from parsers.aggregate.package_data import PackageData
from parsers.aggregate.periods import (
    PERIODS,
    Period,
    entity_lifetime,
    merge,
    message_blocks,
    voice_blocks,
)
from parsers.views.package_wide import channel_fields, person_fields


class Headers(dict):
    """Period -> Period.header(), each formatted once per package (the fixed periods' headers
    are every entity's)."""

    def __missing__(self, period: Period) -> dict:
        header = self[period] = period.header()
        return header


def entity_views(
    data: PackageData, entities: Entities, periods: dict[str, Period]
) -> Iterator[tuple[str, dict]]:
    """Yield every entity view, one at a time."""
    headers = Headers()
    for guild in sorted(entities.guilds.values(), key=lambda item: item.key):
        yield f"guild:{guild.key}", _guild_view(entities, guild, periods, headers)
    for person in sorted(entities.people.values(), key=lambda item: item.key):
        group_periods = _group_periods(entities, person, periods, headers)
        yield f"dm:{person.key}", {**person_fields(person), "periods": group_periods}
        for channel_id in sorted(person.channel_ids):
            yield f"dm_channel:{channel_id}", {"user_id": person.key}
    for entry in entities.channels.values():
        document = {
            **channel_fields(entry),
            "periods": entity_periods(entry.daily, entry.voice, periods, headers),
        }
        yield f"channel:{entry.channel_id}", document
    yield from user_views(data)


def _guild_view(
    entities: Entities, guild: GroupEntry, periods: dict[str, Period], headers: Headers
) -> dict:
    channels: list[dict[str, Any]] = [
        {
            "channel_id": channel_id,
            "name": entities.channels[channel_id].name,
            "messages": entities.channel_totals(channel_id, "lifetime")[0],
        }
        for channel_id in guild.channel_ids
    ]
    channels.sort(key=lambda item: (-item["messages"], item["channel_id"]))
    return {
        "guild_id": guild.key,
        "name": guild.name,
        "channels": channels,
        "periods": _group_periods(entities, guild, periods, headers),
    }


def _group_periods(
    entities: Entities, group: GroupEntry, periods: dict[str, Period], headers: Headers
) -> dict:
    channels = [entities.channels[channel_id] for channel_id in group.channel_ids]
    daily = merge_daily(entry.daily for entry in channels)
    return entity_periods(daily, merge(entry.voice for entry in channels), periods, headers)


def entity_periods(
    daily: DailyMessages, voice: Counter, periods: dict[str, Period], headers: Headers
) -> dict:
    """Return the `periods` object of an entity; its lifetime starts on its own first active day.
    `headers`: the package's, shared by its entities."""
    firsts = [min(voice)] if voice else []
    if daily.days:
        firsts.append(daily.days[0])
    own = {name: periods[name] for name in PERIODS}
    own["lifetime"] = entity_lifetime(periods["lifetime"].end, min(firsts, default=None))
    messages, minutes = message_blocks(daily, own), voice_blocks(voice, own)
    return {
        name: {**headers[period], "messages": messages[name], "voice": minutes[name]}
        for name, period in own.items()
    }


def user_views(data: PackageData) -> Iterator[tuple[str, dict]]:
    """Yield the owner's and each relationship's `user:<id>` view."""
    owner = data.account.owner
    if owner is not None:
        yield f"user:{owner.id}", _user(owner, "OWNER")
    for user_id, (kind, person) in sorted(data.account.relationships.items()):
        if owner is None or user_id != owner.id:
            yield f"user:{user_id}", _user(person, kind)


def _user(person, relationship: str) -> dict:
    return {
        "id": person.id,
        "username": person.username,
        "display_name": person.display_name,
        "avatar_url": person.avatar_url,
        "relationship": relationship,
    }
