"""The people, servers and channels a sample package talks about."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from samples import text
from samples.timeline import DAY_US, DISCORD_LAUNCH, snowflake

TYPE_NAMES = {
    0: "GUILD_TEXT",
    1: "DM",
    2: "GUILD_VOICE",
    3: "GROUP_DM",
    5: "GUILD_ANNOUNCEMENT",
    11: "PUBLIC_THREAD",
    12: "PRIVATE_THREAD",
    15: "GUILD_FORUM",
}
RELATIONSHIP_NAMES = {
    1: "FRIEND",
    2: "BLOCKED",
    3: "PENDING_INCOMING",
    4: "PENDING_OUTGOING",
    5: "IMPLICIT",
}
GUILD_TYPES = (0,) * 12 + (5, 2, 11, 11, 12, 15)
DELETED_USER = "Deleted User"


@dataclass
class Person:
    """A Discord user."""

    id: str
    username: str
    discriminator: str  # "0" for unique usernames, else four digits
    global_name: str | None
    avatar: str | None


@dataclass
class Guild:
    """A server."""

    id: str
    name: str
    admin: bool = False


@dataclass
class Channel:
    """A channel folder of the messages section, with its share of the owner's messages."""

    id: str
    kind: str  # dm, group_dm, guild, left
    type: int
    name: str | None = None
    guild: Guild | None = None
    other: str | None = None  # the other recipient of a DM: a user id or "Deleted User"
    recipients: list[str] | None = None
    label: str | None = None
    window: tuple[int, int] = (0, 0)
    weight: float = 1.0
    has_file: bool = True
    count: int = 0


@dataclass(frozen=True)
class Counts:
    """How many channels of each kind and how many servers."""

    dms: int
    groups: int
    left: int
    guild_channels: int
    guilds: int


@dataclass
class World:
    """Everything a package is about."""

    owner: Person
    created: date
    relationships: list[tuple[Person, int]]
    guilds: list[Guild]
    channels: list[Channel]
    voice: list[tuple[str, str | None]] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)


def derive_counts(
    messages: int, channels: int | None, guilds: int | None, dms: int | None
) -> Counts:
    """Channel and server counts, derived from the message count when not given."""
    total = channels if channels is not None else max(12, round(messages / 335))
    n_dms = dms if dms is not None else max(4, total // 5)
    groups, left = max(2, total // 40), 2 + total // 200
    guild_channels = total - n_dms - groups - left
    if n_dms < 4 or guild_channels < 2:
        raise ValueError(
            f"{total} channels cannot hold {n_dms} DMs (4 or more), {groups} group DMs, "
            f"{left} channels of left servers and 2 server channels"
        )
    n_guilds = guilds if guilds is not None else max(2, guild_channels // 15)
    return Counts(n_dms, groups, left, guild_channels, max(1, n_guilds))


def make_person(rng: random.Random, since_ms: int, name: str | None = None) -> Person:
    """A user; about a quarter keep an old four-digit discriminator."""
    username = name or text.username(rng)
    old = rng.random() < 0.25
    avatar = (
        None
        if rng.random() < 0.2
        else f"{'a_' if rng.random() < 0.15 else ''}{rng.getrandbits(128):032x}"
    )
    return Person(
        id=str(snowflake(rng, since_ms - rng.randrange(400 * 86_400_000))),
        username=username,
        discriminator=f"{rng.randrange(1, 10000):04d}" if old else "0",
        global_name=None if old else text.display_name(username),
        avatar=avatar,
    )


def build_world(
    rng: random.Random,
    counts: Counts,
    start: date,
    days: int,
    owner_name: str | None,
    voice_channels: int | None = None,
) -> World:
    """Create the owner, people, servers and channels (and `voice_channels` server voice ones)."""
    start_ms = (start - date(1970, 1, 1)).days * DAY_US // 1000
    # A long history may start near Discord's launch: no account is older than that.
    created = max(start - timedelta(days=rng.randrange(30, 900)), DISCORD_LAUNCH)
    owner = make_person(
        rng, (created - date(1970, 1, 1)).days * 86_400_000 + 400 * 86_400_000, owner_name
    )
    guilds = [
        Guild(str(snowflake(rng, start_ms - rng.randrange(10**11))), text.guild_name(rng), i < 2)
        for i in range(counts.guilds)
    ]
    people = [make_person(rng, start_ms) for _ in range(counts.dms + 6)]
    channels = _dm_channels(rng, counts.dms, owner, people)
    channels += _group_channels(rng, counts.groups, owner, people)
    channels += _guild_channels(rng, counts.guild_channels, guilds[: max(1, len(guilds) * 3 // 4)])
    channels += [
        Channel("", "left", 0, label=rng.choice(("Unknown channel", "None")))
        for _ in range(counts.left)
    ]
    for chan in channels:
        chan.id = str(snowflake(rng, start_ms - rng.randrange(10**10)))
    _weights_and_windows(rng, channels, days)
    voice: list[tuple[str, str | None]] = [
        (str(snowflake(rng, start_ms)), g.id) for g in guilds[:8] for _ in range(2)
    ]
    if voice_channels is not None:  # drawn apart, so the rest of the world stays the same
        vrng = random.Random(f"{owner.id}:voice")
        voice = _voice_channels(vrng, voice_channels, guilds, start_ms)
    voice += [(c.id, None) for c in channels if c.kind in ("dm", "group_dm")][:10]
    apps = [str(snowflake(rng, start_ms - 10**10)) for _ in range(5)]
    return World(
        owner, created, _relationships(rng, people, counts.dms), guilds, channels, voice, apps
    )


def _voice_channels(
    rng: random.Random, n: int, guilds: list[Guild], start_ms: int
) -> list[tuple[str, str | None]]:
    """Server voice channels spread over every server (ids only: no messages are sent there)."""
    return [
        (str(snowflake(rng, start_ms - rng.randrange(10**10))), guilds[i % len(guilds)].id)
        for i in range(n)
    ]


def _dm_channels(rng: random.Random, n: int, owner: Person, people: list[Person]) -> list[Channel]:
    dup = max(1, n // 10)
    others = [p.id for p in people[:dup]] + [DELETED_USER] + [p.id for p in people[: n - 1 - dup]]
    by_id = {p.id: p for p in people}
    channels = []
    for other in others:
        person = by_id.get(other)
        tag = f"{person.username}#{person.discriminator}" if person else "Deleted User#0000"
        channels.append(
            Channel(
                "",
                "dm",
                1,
                other=other,
                recipients=[owner.id, other],
                label=f"Direct Message with {tag}",
            )
        )
    return channels


def _group_channels(
    rng: random.Random, n: int, owner: Person, people: list[Person]
) -> list[Channel]:
    channels = []
    for index in range(n):
        name = (
            f"{rng.choice(text.ADJECTIVES)} {rng.choice(text.NOUNS)}s" if index % 2 == 0 else None
        )
        members = [owner.id] + [p.id for p in rng.sample(people, 3)]
        channels.append(
            Channel(
                "", "group_dm", 3, name=name, label=name, recipients=members if index != 1 else None
            )
        )
    return channels


def _guild_channels(rng: random.Random, n: int, guilds: list[Guild]) -> list[Channel]:
    channels = []
    for index in range(n):
        guild = guilds[index % len(guilds)] if index < 2 * len(guilds) else rng.choice(guilds)
        name = rng.choice(text.CHANNEL_NAMES)
        channels.append(
            Channel(
                "",
                "guild",
                rng.choice(GUILD_TYPES),
                name=name,
                guild=guild,
                label=f"{name} in {guild.name}",
            )
        )
    return channels


def _weights_and_windows(rng: random.Random, channels: list[Channel], days: int) -> None:
    ranks = list(range(len(channels)))
    rng.shuffle(ranks)
    for chan, rank in zip(channels, ranks, strict=True):
        chan.weight = 1.0 / (rank + 1) ** 0.9
        first = rng.randrange(days)
        last = days - 1 if rank < 3 or rng.random() < 0.5 else rng.randrange(first, days)
        chan.window = (first, last)
    guild_channels = [c for c in channels if c.kind == "guild"]
    guild_channels[-1].has_file = False  # a channel folder with channel.json but no messages file
    guild_channels[-2].weight = 0.0  # an empty messages file


def _relationships(rng: random.Random, people: list[Person], dms: int) -> list[tuple[Person, int]]:
    kinds = [1 if rng.random() < 0.85 else 5 for _ in range(dms)] + [2, 2, 3, 4, 5, 1]
    return list(zip(people, kinds, strict=False))
