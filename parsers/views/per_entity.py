"""Build the per-entity views: guild, dm, dm_channel, channel and user."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from parsers.aggregate import native
from parsers.aggregate.daily import BAND_AGES, DailyMessages, merge_daily
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
from parsers.aggregate.series import SPARSE_BELOW
from parsers.views.package_wide import channel_fields, person_fields


class EntityPeriods:
    """The `periods` objects of one package's entities: the package's fixed periods, and a
    lifetime from each entity's own first active day to the package's end.

    Written as JSON text in C when built (`_dayfold.periods_json`; orjson copies it into the
    view as it is): that spares building and encoding a few dozen small dicts and lists per
    entity. What the text holds besides the messages blocks (the periods' keys and headers, and
    the voice blocks of an entity without voice, most of them) is made once per lifetime's
    start. Else, or when the C loop refuses the numbers, the dicts (`as_dicts`, the reference),
    which orjson encodes to the same text.
    """

    def __init__(self, periods: dict[str, Period]) -> None:
        self._fixed = {name: periods[name] for name in PERIODS if name != "lifetime"}
        self._end = periods["lifetime"].end
        self._headers: dict[Period, dict] = {}
        self._texts: dict[int | None, tuple[list[bytes], list[bytes]]] = {}

    def of(self, daily: DailyMessages, voice: Counter) -> dict | orjson.Fragment:
        """The `periods` object of an entity with these messages and voice minutes."""
        own = self.own(daily, voice)
        if native.dayfold is not None:
            openings, quiet = self._texts_of(own)
            text = native.in_c(
                "periods_json",
                daily.days,
                daily.counts,
                daily.hours_to_band,
                daily.weekdays_to_band,
                own,
                BAND_AGES,
                SPARSE_BELOW,
                True,
                openings,
                [_closing(block) for block in voice_blocks(voice, own).values()]
                if voice
                else quiet,
            )
            if text is not None:
                return orjson.Fragment(text)
        return self.as_dicts(daily, voice, own)

    def own(self, daily: DailyMessages, voice: Counter) -> dict[str, Period]:
        """The entity's periods: the package's, its lifetime from its first active day."""
        firsts = [min(voice)] if voice else []
        if daily.days:
            firsts.append(daily.days[0])
        own = dict(self._fixed)
        own["lifetime"] = entity_lifetime(self._end, min(firsts, default=None))
        return own

    def as_dicts(self, daily: DailyMessages, voice: Counter, own: dict[str, Period]) -> dict:
        """The `periods` object as dicts (the C text's reference)."""
        messages, minutes = message_blocks(daily, own), voice_blocks(voice, own)
        return {
            name: {**self._header(period), "messages": messages[name], "voice": minutes[name]}
            for name, period in own.items()
        }

    def _header(self, period: Period) -> dict:
        header = self._headers.get(period)
        if header is None:
            header = self._headers[period] = period.header()
        return header

    def _texts_of(self, own: dict[str, Period]) -> tuple[list[bytes], list[bytes]]:
        """Each period's opening (`"<name>":{<header>,"messages":`) and closing without voice
        (`,"voice":<block>}`)."""
        start = own["lifetime"].start
        texts = self._texts.get(start)
        if texts is None:
            quiet = voice_blocks(Counter(), own)
            texts = self._texts[start] = (
                [_opening(name, self._header(period)) for name, period in own.items()],
                [_closing(quiet[name]) for name in own],
            )
        return texts


def _opening(name: str, header: dict) -> bytes:
    return orjson.dumps(name) + b":{" + orjson.dumps(header)[1:-1] + b',"messages":'


def _closing(voice_block: dict) -> bytes:
    return b',"voice":' + orjson.dumps(voice_block) + b"}"


def entity_views(
    data: PackageData, entities: Entities, periods: dict[str, Period]
) -> Iterator[tuple[str, dict]]:
    """Yield every entity view, one at a time."""
    writer = EntityPeriods(periods)
    for guild in sorted(entities.guilds.values(), key=lambda item: item.key):
        yield f"guild:{guild.key}", _guild_view(entities, guild, writer)
    for person in sorted(entities.people.values(), key=lambda item: item.key):
        group_periods = _group_periods(entities, person, writer)
        yield f"dm:{person.key}", {**person_fields(person), "periods": group_periods}
        for channel_id in sorted(person.channel_ids):
            yield f"dm_channel:{channel_id}", {"user_id": person.key}
    for entry in entities.channels.values():
        document = {
            **channel_fields(entry),
            "periods": writer.of(entry.daily, entry.voice),
        }
        yield f"channel:{entry.channel_id}", document
    yield from user_views(data)


def _guild_view(entities: Entities, guild: GroupEntry, writer: EntityPeriods) -> dict:
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
        "periods": _group_periods(entities, guild, writer),
    }


def _group_periods(
    entities: Entities, group: GroupEntry, writer: EntityPeriods
) -> dict | orjson.Fragment:
    channels = [entities.channels[channel_id] for channel_id in group.channel_ids]
    daily = merge_daily(entry.daily for entry in channels)
    return writer.of(daily, merge(entry.voice for entry in channels))


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
