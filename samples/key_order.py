"""Varied key order inside activity lines: older exports write the keys in any order.

A variant is a number below VARIANTS; its kind (variant % 4) says where event_type and timestamp
go, and variants from 4 on also interleave keys that no statistic reads. The usual order (event
type first, timestamp near the end) is `None`. Only the order changes, never a value: a package
with varied key order holds the same events as the same spec with the usual order.
"""

from __future__ import annotations

import itertools
import random

from samples.compact_json import compact

KEY_ORDERS = ("fixed", "per_shard", "per_line")
VARIANTS = 8
KINDS = ("event type first", "timestamp first", "event type inside", "event type last")
# Keys real events carry that no statistic reads; some end like a key that is read.
UNKNOWN_KEYS = (
    ("location", "chat_input"),
    ("location_section", "channel_text_area"),
    ("referring_domain", "discord.com"),
    ("search_engine", None),
    ("parent_channel_id", "snowflake"),
    ("source_guild_id", "snowflake"),
    ("message_send_timestamp", "millis"),
    ("previous_os", "Windows"),
    ("is_premium", False),
    ("num_guilds", 57),
    ("channel_type", 0),
    ("load_id", "hex"),
    ("mobile_network_type", "wifi"),
)


def _unknown_pieces(rng: random.Random) -> list[str]:
    pieces = []
    for key, value in rng.sample(UNKNOWN_KEYS, rng.randrange(3, 7)):
        if value == "snowflake":
            value = str(rng.randrange(10**17, 10**18))
        elif value == "millis":
            value = str(rng.randrange(1_400_000_000_000, 1_800_000_000_000))
        elif value == "hex":
            value = f"{rng.getrandbits(128):032x}"
        pieces.append(compact({key: value})[1:-1].replace("%", "%%"))
    return pieces


def arrange(
    rng: random.Random, variant: int, event: str | None, stamp: str, others: list[str]
) -> str:
    """A line template: `event` (may be None), `stamp` and `others` in the variant's order.

    The `%(extra)s` slot (keys ending with a comma) is glued before one of the keys but the first.
    """
    kind = variant % len(KINDS)
    rest = others + (_unknown_pieces(rng) if variant >= len(KINDS) else [])
    rng.shuffle(rest)
    if kind != 1:
        rest.insert(rng.randrange(1, len(rest)), stamp)
    if event is not None:
        if kind == 0:
            rest.insert(0, event)
        elif kind == 3:
            rest.append(event)
        else:
            rest.insert(rng.randrange(1, len(rest)), event)
    if kind == 1:
        rest.insert(0, stamp)
    slot = rng.randrange(1, len(rest))
    rest[slot] = "%(extra)s" + rest[slot]
    return "{" + ",".join(rest) + "}\n"


class KeyOrder:
    """The variant of each line of one activity folder, in writing order (None: usual order)."""

    def __init__(self, mode: str, seed: int, folder: str, quotas: list[int]) -> None:
        self._mode, self._rng = mode, random.Random(f"{seed}:order:{folder}")
        self._ends = list(itertools.accumulate(quotas))
        self._by_shard = [self._pick() for _ in quotas]
        self._line, self._shard = 0, 0

    def _pick(self) -> int | None:
        variant = self._rng.randrange(VARIANTS + 1)  # the usual order is one choice among them
        return None if variant == VARIANTS else variant

    def skip(self, lines: int) -> None:
        """Lines written without a template (no event_type)."""
        self._line += lines

    def next(self) -> int | None:
        """The variant of the next line."""
        if self._mode == "per_line":
            return self._pick()
        while self._shard < len(self._ends) - 1 and self._line >= self._ends[self._shard]:
            self._shard += 1
        self._line += 1
        return self._by_shard[self._shard]
