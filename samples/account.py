"""Account, servers and the small extra files of a sample package."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from typing import Any

from samples.package_zip import PackageZip
from samples.world import RELATIONSHIP_NAMES, Person, World

LOCALES = {"en": "en-US", "fr": "fr", "de": "de", "es": "es-ES", "pt": "pt-BR"}
# (amount in cents, currency, status): status 1 is successful; discord_orb is virtual money.
PAYMENTS = (
    (999, "usd", 1),
    (999, "usd", 1),
    (499, "eur", 1),
    (999, "usd", 2),
    (299, "usd", 3),
    (400, "discord_orb", 1),
    (1000, "discord_orb", 1),
    (1299, "eur", 1),
    (250, "discord_orb", 2),
)
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def user_json(
    world: World, layout: str, language: str, email: str, payments: list
) -> dict[str, Any]:
    """user.json: the owner, relationships, settings and (before layout D) payments."""
    owner = world.owner
    doc: dict[str, Any] = {
        "id": owner.id,
        "username": owner.username,
        "discriminator": int(owner.discriminator) if owner.discriminator != "0" else "0",
        "global_name": owner.global_name,
        "email": email,
        "verified": True,
        "avatar_hash": owner.avatar,
        "has_mobile": True,
        "needs_email_verification": False,
        "premium_until": None,
        "flags": ["HAS_UNREAD_URGENT_MESSAGES"] if layout == "D" else 32,
        "phone": None,
        "temp_banned_until": None,
        "ip": "192.0.2.17",
        "settings": _settings(language),
        "connections": _connections(owner),
        "relationships": [_relationship(p, kind, layout) for p, kind in world.relationships],
        "notes": {},
        "guild_settings": [{"guild_id": g.id, "muted": False} for g in world.guilds[:3]],
    }
    if layout != "D":
        doc["payments"] = payments
    return doc


def _relationship(person: Person, kind: int, layout: str) -> dict[str, Any]:
    return {
        "id": person.id,
        "type": RELATIONSHIP_NAMES[kind] if layout in "CD" else kind,
        "nickname": None,
        "user": {
            "id": person.id,
            "username": person.username,
            "discriminator": person.discriminator,
            "avatar": person.avatar,
            "global_name": person.global_name,
        },
    }


def _settings(language: str) -> dict[str, Any]:
    return {
        "locale": LOCALES[language],
        "theme": "dark",
        "developer_mode": False,
        "guild_folders": [],
        "status": "online",
        "timezone_offset": 60,
    }


def _connections(owner: Person) -> list[dict[str, Any]]:
    return [
        {
            "type": "spotify",
            "id": f"sp{owner.id[-8:]}",
            "name": owner.username,
            "visibility": 1,
            "friend_sync": False,
            "show_activity": True,
            "verified": True,
        }
    ]


def payments(
    rng: random.Random, layout: str, end: date
) -> tuple[list[dict[str, Any]], Counter, Counter]:
    """Payment records plus successful totals per real currency and per virtual currency."""
    records: list[dict[str, Any]] = []
    real: Counter[str] = Counter()
    virtual: Counter[str] = Counter()
    for index, (amount, currency, status) in enumerate(PAYMENTS):
        when = (
            f"{end.year - 1}-{index % 12 + 1:02d}-{rng.randrange(1, 28):02d}T12:00:00.000000+00:00"
        )
        shown = currency.upper() if layout == "D" and currency != "discord_orb" else currency
        records.append(
            {
                "id": str(rng.getrandbits(60)),
                "amount": amount,
                "currency": shown,
                "status": status,
                "created_at": when,
                "description": "Nitro Monthly",
            }
        )
        if status == 1:
            (virtual if currency == "discord_orb" else real)[currency] += amount
    return records, real, virtual


def write_account(pz: PackageZip, root: str, layout: str, user: dict, records: list) -> None:
    """The account folder: user.json, avatar and (layout D) the billing export."""
    pz.write_json(f"{root}/user.json", user)
    if user.get("avatar_hash"):
        pz.write_bytes(f"{root}/avatar.png", TINY_PNG)
    if layout == "D":
        pz.write_json(
            f"{root}/user_data_exports/discord_billing/payments.json", {"records": records}
        )


def write_servers(pz: PackageZip, root: str, world: World) -> None:
    """servers/index.json and one guild.json per server (fuller ones for administered servers)."""
    pz.write_json(f"{root}/index.json", {g.id: g.name for g in world.guilds})
    for guild in world.guilds:
        doc: dict[str, Any] = {"id": guild.id, "name": guild.name}
        if guild.admin:
            doc |= {"owner_id": world.owner.id, "region": "europe", "roles": [], "emojis": []}
        pz.write_json(f"{root}/{guild.id}/guild.json", doc)
        if guild.admin:
            pz.write_json(f"{root}/{guild.id}/audit-log.json", [])


def write_extras(pz: PackageZip, world: World) -> None:
    """Layout D's extra folders."""
    pz.write_json(f"Activities/{world.apps[0]}/preferences.json", {"application_id": world.apps[0]})
    pz.write_json("Ads/traits.json", {"age_group": "unknown", "interests": []})
    pz.write_json("Support_Tickets/tickets.json", [])


def readme() -> bytes:
    """The README.txt every package starts with."""
    return (
        b"Welcome to your Discord Data Package!\n\nInside, you'll find a few JSON files\n"
        b"of the data we use to provide Discord's service to you.\n"
    )
