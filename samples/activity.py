"""The activity section of a sample package: newline-delimited JSON event shards per folder."""

from __future__ import annotations

import itertools
import random
from collections.abc import Set as AbstractSet
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

from samples import events as ev
from samples.package_zip import PackageZip
from samples.world import World

FOLDERS = ("analytics", "modeling", "reporting", "tns")  # the order a parser falls back in
PAIRS = {
    "voice": ("join_voice_channel", "leave_voice_channel"),
    "session": ("session_start", "session_end"),
}
ANALYTICS_MIX = (
    ("send_message", 14),
    ("app_opened", 7),
    ("session", 3),
    ("voice", 2.5),
    ("join_call", 0.4),
    ("start_call", 0.4),
    ("guild_joined", 0.15),
    ("add_reaction", 5),
    ("message_edited", 2),
    ("message_deleted", 0.8),
    ("application_command_used", 0.8),
    ("slash_command_used", 0.4),
    ("notification_clicked", 2),
    ("login_successful", 0.3),
    ("app_crashed", 0.1),
    ("captcha_served", 0.1),
    ("user_avatar_updated", 0.05),
    ("remote_auth_login", 0.05),
    ("oauth2_authorize_accepted", 0.05),
    ("voice_message_recorded", 0.1),
    ("premium_upsell_viewed", 0.3),
    ("send_message_failure", 0.4),
    ("channel_opened", 14),
    ("ack_messages", 10),
    ("notification_viewed", 4),
    ("start_speaking", 6),
    ("app_ui_viewed", 10),
    ("app_background", 4),
    ("guild_viewed", 4),
    ("keyboard_shortcut_used", 1),
)
OVERLAP_MIX = (
    ("app_opened", 5),
    ("send_message", 10),
    ("add_reaction", 3),
    ("message_edited", 1),
    ("notification_clicked", 2),
    ("guild_joined", 0.2),
    ("channel_opened", 5),
)
# Families found only in one fallback folder, so a parser's per-family fallback gets exercised.
ONLY_IN = {"reporting": "email_opened", "tns": "message_reported"}
EMOJIS = (
    ("👍", None),
    ("😂", None),
    ("❤️", None),
    ("🔥", None),
    ("😭", None),
    ("kekw", "811234567890123456"),
    ("pepe_laugh", "722334455667788990"),
)
PLACES = {"en": 2, "fr": 0, "de": 1, "es": 3, "pt": 4}
CLIENT_CUM = tuple(itertools.accumulate(c[-1] for c in ev.CLIENTS))
CLIENT_IDS = tuple(range(len(ev.CLIENTS)))
FLUSH_LINES = 1000


@dataclass(frozen=True)
class ActivityOptions:
    """How the activity section is shaped (the activity fields of a SampleSpec)."""

    events: int
    shards: int
    seed: int
    voice_weight: float | None = None  # weight of voice pairs in the analytics mix
    fallback_folders: frozenset[str] | None = None  # None: reporting, and by seed modeling, tns
    fallback_shards: int = 1
    fallback_share: float | None = None  # lines of each fallback folder per analytics line
    key_order: str = "fixed"


@dataclass(frozen=True)
class FolderPlan:
    """One activity folder to write."""

    name: str
    lines: int
    shards: int
    mix: tuple[tuple[str, float], ...]
    mandatory: tuple[str, ...]


def plan_folders(options: ActivityOptions) -> list[FolderPlan]:
    """analytics always; the fallback folders asked for, or by default reporting always,
    modeling for odd seeds and tns when seed % 3 == 1."""
    events, seed = options.events, options.seed
    pairs = {t for pair in PAIRS.values() for t in pair}
    mandatory = [k for k in ev.COUNTED if k not in pairs and k not in ONLY_IN.values()]
    mix: tuple[tuple[str, float], ...] = ANALYTICS_MIX
    if options.voice_weight is not None:
        mix = tuple((k, options.voice_weight if k == "voice" else w) for k, w in mix)
    plans = [
        FolderPlan(
            "analytics", events, options.shards, mix, (*mandatory, *PAIRS, "send_message_failure")
        )
    ]
    wanted: AbstractSet[str] | None = options.fallback_folders
    if wanted is None:
        wanted = {"reporting", *["modeling"] * (seed % 2), *["tns"] * (seed % 3 == 1)}
    for name, default_lines in (
        ("modeling", events // 100),
        ("reporting", events // 50 + 1),
        ("tns", events // 200 + 1),
    ):
        if name in wanted:
            lines = default_lines
            if options.fallback_share is not None:
                lines = max(1, round(events * options.fallback_share))
            plans.append(_fallback_plan(name, lines, options.fallback_shards))
    return plans


def _fallback_plan(name: str, lines: int, shards: int) -> FolderPlan:
    only = ONLY_IN.get(name)
    if only is None:
        return FolderPlan(name, lines, shards, OVERLAP_MIX, ())
    weight = 2 if name == "reporting" else 1
    return FolderPlan(name, lines, shards, (*OVERLAP_MIX, (only, weight)), (only,))


def shard_quotas(total: int, shards: int) -> list[int]:
    """Lines per shard: as even as can be, the first shards one line longer."""
    return [total // shards + (i < total % shards) for i in range(shards)]


class ShardWriter:
    """Streams lines into `events-YYYY-NNNNN-of-MMMMM.json` members, one shard after the other."""

    def __init__(self, pz: PackageZip, folder: str, year: int, shards: int, total: int) -> None:
        self._pz, self._stack = pz, ExitStack()
        self._names = [
            f"{folder}/events-{year}-{i:05d}-of-{shards:05d}.json" for i in range(shards)
        ]
        self._quotas = shard_quotas(total, shards)
        self._index, self._left = -1, 0
        self._buf: list[str] = []
        self._out: IO[bytes] | None = None
        self._rotate()

    def _rotate(self) -> None:
        self._flush()
        self._stack.close()
        self._index += 1
        self._out = self._stack.enter_context(
            self._pz.open_binary(self._names[self._index], big=True)
        )
        self._left = self._quotas[self._index]

    def _flush(self) -> None:
        if self._buf:
            assert self._out is not None  # _rotate (in __init__) opened a shard before any line
            self._out.write("".join(self._buf).encode())
            self._buf = []

    def write(self, line: str) -> None:
        """Add one line to the current shard, moving to the next one when it is full."""
        while self._left <= 0 and self._index < len(self._names) - 1:
            self._rotate()
        self._buf.append(line)
        self._left -= 1
        if len(self._buf) >= FLUSH_LINES:
            self._flush()

    def close(self) -> None:
        """Finish the current shard and create the remaining (empty) ones."""
        while self._index < len(self._names) - 1:
            self._rotate()
        self._flush()
        self._stack.close()


class Extras:
    """Pre-rendered event-specific keys (channel, guild, emoji, application) from the world."""

    def __init__(self, rng: random.Random, world: World) -> None:
        live = [c for c in world.channels if c.count > 0] or world.channels
        picks = rng.choices(live, weights=[c.count + 1 for c in live], k=512)
        self.message = [_chan(c.id, c.guild.id if c.guild else None) for c in picks]
        self.message_ids = [c.id for c in picks]
        self.voice = [(_chan(cid, gid), cid) for cid, gid in world.voice]
        self.calls = [_chan(c.id, None) for c in world.channels if c.kind in ("dm", "group_dm")]
        self.guilds = [f'"guild_id":"{g.id}",' for g in world.guilds]
        self.apps = [
            f'"application_id":"{app}","guild_id":"{g.id}","command_id":"{app[:-3]}777",'
            for app in (*world.apps, "-1")
            for g in world.guilds[:3]
        ]
        self.app_keys = [f"{g.id}:{app}" for app in (*world.apps, "-1") for g in world.guilds[:3]]
        self.emojis = [
            (_emoji(name, eid), f"{name}:{eid}" if eid else name) for name, eid in EMOJIS
        ]

    def of(self, rng: random.Random, kind: str) -> str:
        """The extra keys of one event of a kind."""
        if kind in (
            "send_message",
            "send_message_failure",
            "message_edited",
            "message_deleted",
            "channel_opened",
        ):
            return rng.choice(self.message)
        if kind in ("join_call", "start_call"):
            return rng.choice(self.calls)
        if kind == "guild_joined":
            return rng.choice(self.guilds)
        if kind in ("application_command_used", "slash_command_used"):
            return rng.choice(self.apps)
        return ""


def _chan(channel_id: str, guild_id: str | None) -> str:
    return f'"channel_id":"{channel_id}",' + (f'"guild_id":"{guild_id}",' if guild_id else "")


def _emoji(name: str, emoji_id: str | None) -> str:
    custom = f'"emoji_id":"{emoji_id}","emoji_animated":false,' if emoji_id else ""
    return f'"emoji_name":"{name}",{custom}'
