"""Deterministic generator of realistic Discord data packages (layouts A-D), as a library."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from samples.account import (
    payments,
    readme,
    user_json,
    write_account,
    write_extras,
    write_servers,
)
from samples.activity import FOLDERS, PLACES, ActivityOptions
from samples.event_stream import write_activity
from samples.key_order import KEY_ORDERS
from samples.messages import write_messages
from samples.package_zip import PackageZip
from samples.tally import Tally
from samples.text import content_pool
from samples.timeline import Timeline, build_timeline
from samples.truth import SECTIONS, SampleTruth, build_truth
from samples.world import World, build_world, derive_counts

LAYOUTS = ("A", "B", "C", "D")
# Layout D translates the top folders into the account's language.
FOLDER_NAMES = {
    "en": ("Account", "Messages", "Servers", "Activity"),
    "fr": ("Compte", "Messages", "Serveurs", "Activité"),
    "de": ("Konto", "Nachrichten", "Server", "Aktivität"),
    "es": ("Cuenta", "Mensajes", "Servidores", "Actividad"),
    "pt": ("Conta", "Mensagens", "Servidores", "Atividade"),
}
WRAPPER = "discord_data_package/"
FALLBACKS = set(FOLDERS[1:])


@dataclass(frozen=True)
class SampleSpec:
    """What package to generate; counts of channels, guilds and DMs derive from `messages`."""

    layout: str = "D"
    messages: int = 1000
    events: int = 2000  # lines of the analytics folder (all shards)
    channels: int | None = None
    guilds: int | None = None
    dms: int | None = None  # DM channels, duplicates and the "Deleted User" one included
    language: str = "en"
    wrap: bool = False
    shards: int = 1
    partial: frozenset[str] = frozenset()
    seed: int = 1
    end_date: date = date(2024, 5, 1)
    days: int = 730
    directory_entries: bool = True
    macosx: bool = False
    zip64: bool = False
    owner_name: str | None = None
    # Shapes of the activity section (the defaults give the usual package).
    voice_channels: int | None = None  # server voice channels (None: 2 in each of 8 servers)
    voice_weight: float | None = None  # voice pairs in the analytics mix (None: 2.5 of ~107)
    fallback_folders: frozenset[str] | None = None  # of modeling, reporting, tns; None: by seed
    fallback_shards: int = 1  # shards of each fallback folder
    fallback_share: float | None = None  # lines per fallback folder per analytics line
    key_order: str = "fixed"  # or "per_shard", "per_line": keys of activity lines reordered


def folder_names(layout: str, language: str) -> dict[str, str]:
    """Top folder per section: lowercase English before layout D, translated Title-case in D."""
    if layout == "D":
        return dict(zip(SECTIONS, FOLDER_NAMES[language], strict=True))
    return {section: section for section in SECTIONS}


def _validate(spec: SampleSpec) -> None:
    if spec.layout not in LAYOUTS or spec.language not in FOLDER_NAMES:
        raise ValueError(f"unknown layout {spec.layout!r} or language {spec.language!r}")
    if not spec.partial <= set(SECTIONS):
        raise ValueError(f"partial sections must be among {SECTIONS}")
    if spec.messages < 0 or spec.events < 0 or spec.shards < 1 or spec.days < 1:
        raise ValueError("messages and events must be >= 0, shards and days >= 1")
    if spec.key_order not in KEY_ORDERS or not (spec.fallback_folders or set()) <= FALLBACKS:
        raise ValueError(f"key_order must be among {KEY_ORDERS}, fallback folders of {FALLBACKS}")
    if spec.fallback_shards < 1 or (spec.voice_channels is not None and spec.voice_channels < 1):
        raise ValueError("fallback_shards and voice_channels must be >= 1")
    if (spec.voice_weight or 0) < 0 or (spec.fallback_share or 0) < 0:
        raise ValueError("voice_weight and fallback_share must be >= 0")


def generate_package(path: str | Path, spec: SampleSpec) -> SampleTruth:
    """Write the package zip at `path`, streaming every member, and return what was written."""
    _validate(spec)
    counts = derive_counts(spec.messages, spec.channels, spec.guilds, spec.dms)
    tl = build_timeline(random.Random(f"{spec.seed}:timeline"), spec.end_date, spec.days)
    world = build_world(
        random.Random(f"{spec.seed}:world"),
        counts,
        tl.start,
        spec.days,
        spec.owner_name,
        spec.voice_channels,
    )
    names, tally = folder_names(spec.layout, spec.language), Tally()
    stamp = spec.end_date + timedelta(days=1)
    pz = PackageZip(
        path,
        date_time=(stamp.year, stamp.month, stamp.day, 3, 0, 0),
        prefix=WRAPPER if spec.wrap else "",
        directory_entries=spec.directory_entries,
        macosx=spec.macosx,
        zip64=spec.zip64,
    )
    try:
        _write_sections(pz, spec, world, tl, names, tally)
    finally:
        pz.close()
    prefix = WRAPPER if spec.wrap else ""
    folders = {s: prefix + n for s, n in names.items() if s not in spec.partial}
    return build_truth(spec, world, tally, folders)


def _write_sections(
    pz: PackageZip,
    spec: SampleSpec,
    world: World,
    tl: Timeline,
    names: dict[str, str],
    tally: Tally,
) -> None:
    # One random stream per section, so omitting a section leaves the others unchanged.
    pz.write_bytes("README.txt", readme())
    if "account" not in spec.partial:
        _write_account(
            pz, spec, world, names["account"], random.Random(f"{spec.seed}:account"), tally
        )
    if "messages" not in spec.partial:
        pool = content_pool(random.Random(f"{spec.seed}:texts"), spec.language)
        rng = random.Random(f"{spec.seed}:messages")
        write_messages(
            pz, names["messages"], spec.layout, world, tl, rng, pool, spec.messages, tally
        )
    if "servers" not in spec.partial:
        write_servers(pz, names["servers"], world)
    if "activity" not in spec.partial:
        final = tally.newest_us is None
        options = activity_options(spec)
        write_activity(
            pz, names["activity"], world, tl, tally, options, PLACES[spec.language], final
        )
    if spec.layout == "D":
        write_extras(pz, world)


def activity_options(spec: SampleSpec) -> ActivityOptions:
    """The activity fields of a spec."""
    return ActivityOptions(
        events=spec.events,
        shards=spec.shards,
        seed=spec.seed,
        voice_weight=spec.voice_weight,
        fallback_folders=spec.fallback_folders,
        fallback_shards=spec.fallback_shards,
        fallback_share=spec.fallback_share,
        key_order=spec.key_order,
    )


def _write_account(
    pz: PackageZip, spec: SampleSpec, world: World, root: str, rng: random.Random, tally: Tally
) -> None:
    records, tally.payments_real, tally.payments_virtual = payments(rng, spec.layout, spec.end_date)
    tally.payments_successful = sum(1 for r in records if r["status"] == 1)
    email = f"{world.owner.username.replace('_', '.')}+{spec.seed}@example.org"
    user = user_json(world, spec.layout, spec.language, email, records)
    write_account(pz, root, spec.layout, user, records)
    kinds = [kind for _, kind in world.relationships]
    tally.friends, tally.blocked = kinds.count(1), kinds.count(2)
    tally.secrets.append(email)
