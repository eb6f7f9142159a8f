"""Read channel.json, the messages index.json and the servers files into channel metadata."""

import re
from collections import Counter
from dataclasses import dataclass, field

import orjson

from parsers.sources.json_values import json_text

UNKNOWN_GUILD = "unknown"
UNKNOWN_GUILD_NAME = "Unknown server"
DELETED_USER = "Deleted User"
_DM_TYPES = {1, 18, "DM", "EPHEMERAL_DM"}
_GROUP_TYPES = {3, "GROUP_DM"}
_DM_LABEL = re.compile(r"Direct Message with (?P<name>.+?)(?:#\d{1,4})?$")


@dataclass
class ChannelMeta:
    """What is known about one channel."""

    channel_id: str
    kind: str = "guild"
    name: str | None = None
    guild_id: str | None = None
    guild_name: str | None = None
    recipients: list[str] = field(default_factory=list)
    label: str | None = None
    person_id: str | None = None


def load_json(data: bytes) -> object:
    """Decode a small JSON file; None when it is not valid JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def parse_channel(channel_id: str, document: object) -> ChannelMeta:
    """Turn a decoded channel.json into channel metadata (missing keys are fine)."""
    meta = ChannelMeta(channel_id)
    if not isinstance(document, dict):
        meta.guild_id = UNKNOWN_GUILD
        return meta
    kind = _type(document.get("type"))
    guild = document.get("guild") if isinstance(document.get("guild"), dict) else None
    recipients = document.get("recipients")
    meta.recipients = (
        [str(item) for item in recipients if item] if isinstance(recipients, list) else []
    )
    meta.name = json_text(document.get("name"))
    if kind in _DM_TYPES or (
        guild is None and kind not in _GROUP_TYPES and len(meta.recipients) == 2
    ):
        meta.kind = "dm"
    elif kind in _GROUP_TYPES or (guild is None and len(meta.recipients) > 2):
        meta.kind = "group_dm"
    elif guild is not None and json_text(guild.get("id")):
        meta.guild_id = json_text(guild.get("id"))
        meta.guild_name = json_text(guild.get("name"))
    else:
        meta.guild_id = UNKNOWN_GUILD
    return meta


def guess_owner_id(channels: dict[str, ChannelMeta]) -> str | None:
    """Guess the owner id without user.json: the one recipient present in most private channels."""
    seen: Counter[str] = Counter()
    for meta in channels.values():
        if meta.kind in ("dm", "group_dm"):
            seen.update(set(meta.recipients) - {DELETED_USER})
    common = seen.most_common(2)
    if not common or (len(common) > 1 and common[0][1] == common[1][1]):
        return None  # a tie: fall back to the owner being listed first
    return common[0][0]


def resolve_dm_people(channels: dict[str, ChannelMeta], owner_id: str | None) -> None:
    """Set person_id on each DM channel: the other recipient, or a per-channel placeholder."""
    for meta in channels.values():
        if meta.kind != "dm":
            continue
        others = [item for item in meta.recipients if item != owner_id]
        if owner_id is None and len(others) > 1:
            others = others[1:]
        other = others[0] if others else None
        if other is None or other == DELETED_USER or not other.isdigit():
            # A deleted or unknown person cannot be merged with anyone: one entry per channel.
            meta.person_id = (
                f"{'deleted' if other == DELETED_USER else 'unknown'}-{meta.channel_id}"
            )
        else:
            meta.person_id = other


def dm_label_name(label: str | None) -> str | None:
    """Return the person name of a `Direct Message with <name>#0` label, or None."""
    if not label:
        return None
    match = _DM_LABEL.fullmatch(label.strip())
    return match["name"] if match else None


_PLACEHOLDER_LABELS = frozenset({"none", "unknown channel", "null"})


def label_channel_name(label: str | None) -> str | None:
    """The channel name an index.json label gives: `general in My server` -> `general`;
    placeholders such as `None` or `Unknown channel` give None."""
    if not label or label.strip().lower() in _PLACEHOLDER_LABELS:
        return None
    name, separator, _server = label.partition(" in ")
    return (name if separator else label).strip() or None


def parse_index(document: object) -> dict[str, str | None]:
    """Turn a decoded `{id: label}` index into a dict of strings (labels may be null)."""
    if not isinstance(document, dict):
        return {}
    return {str(key): json_text(value) for key, value in document.items()}


def guild_name(document: object) -> tuple[str | None, str | None]:
    """Return (id, name) of a decoded guild.json."""
    if not isinstance(document, dict):
        return None, None
    return json_text(document.get("id")), json_text(document.get("name"))


def _type(value: object) -> object:
    if isinstance(value, str):
        stripped = value.strip()
        return int(stripped) if stripped.isdigit() else stripped.upper()
    return value
