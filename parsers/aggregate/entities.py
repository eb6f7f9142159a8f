"""Resolve channels, servers and people from channel metadata, labels, relationships and voice."""

from collections import Counter
from dataclasses import dataclass, field

from parsers.aggregate.daily import DailyMessages, daily_messages
from parsers.aggregate.package_data import PackageData
from parsers.aggregate.periods import Period, sum_in
from parsers.sources.account import Person
from parsers.sources.channels import (
    DELETED_USER,
    UNKNOWN_GUILD,
    UNKNOWN_GUILD_NAME,
    ChannelMeta,
    dm_label_name,
    guess_owner_id,
    label_channel_name,
    resolve_dm_people,
)

_NO_HOURS: Counter[int] = Counter()  # a channel without messages (only ever read)
_NO_VOICE: Counter[int] = Counter()  # a channel without voice (only ever read)


@dataclass(slots=True)
class ChannelEntry:
    """One channel with its messages and voice minutes per day."""

    channel_id: str
    kind: str
    name: str | None
    guild_id: str | None
    guild_name: str | None
    person_id: str | None
    daily: DailyMessages
    voice: Counter[int]


@dataclass
class GroupEntry:
    """A server or a person: a set of channels."""

    key: str
    name: str | None = None
    person: Person | None = None
    channel_ids: list[str] = field(default_factory=list)


@dataclass
class Entities:
    """All channels, servers and people of a package, with per-period totals."""

    owner_id: str | None
    channels: dict[str, ChannelEntry]
    guilds: dict[str, GroupEntry]
    people: dict[str, GroupEntry]
    # period name -> channel id -> (messages, voice minutes): a top list reads one period
    totals: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)

    def channel_totals(self, channel_id: str, period: str) -> tuple[int, float]:
        """Return (messages, voice minutes) of a channel in a period."""
        return self.totals[period][channel_id]

    def group_totals(self, group: GroupEntry, period: str) -> tuple[int, float, int]:
        """Return (messages, voice minutes, channels with either) of a server or person in a
        period."""
        totals = self.totals[period]
        messages, minutes, active = 0, 0.0, 0
        for channel_id in group.channel_ids:
            count, voice = totals[channel_id]
            messages += count
            minutes += voice
            if count or voice:
                active += 1
        return messages, minutes, active


def resolve_message_channels(data: PackageData) -> None:
    """Give each channel with messages but no channel.json its metadata (idempotent)."""
    for channel_id in data.message_hours:
        if channel_id not in data.channels:
            data.channels[channel_id] = _folder_only_meta(data, channel_id)


def build_entities(data: PackageData, periods: dict[str, Period]) -> Entities:
    """Resolve every channel, server and person, and total each channel per period."""
    resolve_message_channels(data)
    owner_id = data.account.owner.id if data.account.owner else guess_owner_id(data.channels)
    resolve_dm_people(data.channels, owner_id)
    channel_ids = set(data.channels) | set(data.message_hours) | set(data.activity.voice)
    entities = Entities(owner_id, {}, {}, {}, {name: {} for name in periods})
    end = periods["lifetime"].end
    starts = [period.start for period in periods.values()]
    per_period = list(entities.totals.values())  # in the order of `periods`
    silent = [0.0] * len(periods)  # the voice minutes of a channel without voice
    for channel_id in sorted(channel_ids):
        entry = _channel_entry(data, channel_id, end)
        entities.channels[channel_id] = entry
        _attach(data, entities, entry)
        voice = entry.voice
        minutes = [sum_in(voice, period) for period in periods.values()] if voice else silent
        for totals, messages, voice_minutes in zip(
            per_period, entry.daily.totals_since(starts), minutes, strict=True
        ):
            totals[channel_id] = (messages, voice_minutes)
    for guild_id, name in data.guild_names.items():
        entities.guilds.setdefault(guild_id, GroupEntry(guild_id, name))
    return entities


def _channel_entry(data: PackageData, channel_id: str, end: int | None) -> ChannelEntry:
    meta = data.channels.get(channel_id)
    if meta is None:
        meta = _voice_only_meta(data, channel_id)
    label = label_channel_name(data.labels.get(channel_id)) if meta.kind != "dm" else None
    name = meta.name or label
    guild_name = None
    if meta.guild_id is not None:
        guild_name = _guild_name(data, meta.guild_id, meta.guild_name)
    return ChannelEntry(
        channel_id,
        meta.kind,
        name,
        meta.guild_id,
        guild_name,
        meta.person_id,
        daily_messages(data.message_hours.get(channel_id) or _NO_HOURS, end),
        data.activity.voice.get(channel_id) or _NO_VOICE,
    )


def _folder_only_meta(data: PackageData, channel_id: str) -> ChannelMeta:
    # A channel folder without channel.json: a DM when its index label says so, else unknown server.
    if dm_label_name(data.labels.get(channel_id)):
        return ChannelMeta(channel_id, "dm")
    return ChannelMeta(channel_id, "guild", guild_id=UNKNOWN_GUILD)


def _voice_only_meta(data: PackageData, channel_id: str) -> ChannelMeta:
    # A voice channel seen only in activity events: a guild channel when the event names a guild.
    guild_id = data.activity.voice_guild.get(channel_id)
    if guild_id is not None:
        return ChannelMeta(channel_id, "guild", guild_id=guild_id)
    return ChannelMeta(channel_id, "dm", person_id=None)


def _guild_name(data: PackageData, guild_id: str, from_channel: str | None) -> str | None:
    if guild_id == UNKNOWN_GUILD:
        return UNKNOWN_GUILD_NAME
    return data.guild_names.get(guild_id) or from_channel


def _attach(data: PackageData, entities: Entities, entry: ChannelEntry) -> None:
    if entry.kind == "guild" and entry.guild_id is not None:
        guild = entities.guilds.setdefault(
            entry.guild_id, GroupEntry(entry.guild_id, entry.guild_name)
        )
        guild.name = guild.name or entry.guild_name
        guild.channel_ids.append(entry.channel_id)
    elif entry.kind == "dm" and entry.person_id is not None:
        person = entities.people.get(entry.person_id)
        if person is None:
            person = GroupEntry(entry.person_id, person=_person(data, entry))
            entities.people[entry.person_id] = person
        person.channel_ids.append(entry.channel_id)
        entry.name = person.person.display_name if person.person else entry.name


def _person(data: PackageData, entry: ChannelEntry) -> Person:
    relation = data.account.relationships.get(entry.person_id or "")
    if relation is not None:
        return relation[1]
    if (entry.person_id or "").startswith("deleted-"):
        return Person(entry.person_id or "", DELETED_USER, DELETED_USER)
    name = dm_label_name(data.labels.get(entry.channel_id))
    return Person(entry.person_id or "", name, name)
