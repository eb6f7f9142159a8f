"""Deterministic generator of realistic Discord data packages (layouts A-D), library and CLI.

python -m parsers.sample OUT.zip --layout D --messages 1000 --events 2000 --truth OUT.json
"""

from __future__ import annotations

import argparse
import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from parsers.sample_account import (
    payments,
    readme,
    user_json,
    write_account,
    write_extras,
    write_servers,
)
from parsers.sample_activity import FOLDERS, PLACES
from parsers.sample_events import COUNTED
from parsers.sample_messages import write_messages
from parsers.sample_stream import write_activity
from parsers.sample_tally import Tally
from parsers.sample_text import content_pool
from parsers.sample_time import build_timeline, iso_z
from parsers.sample_world import World, build_world, derive_counts
from parsers.sample_zip import PackageZip

SECTIONS = ("account", "messages", "servers", "activity")
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


@dataclass
class SampleTruth:
    """Figures counted while writing a package (never by parsing it back)."""

    layout: str
    language: str
    seed: int
    folders: dict[
        str, str
    ]  # section -> top folder as written (wrapper included); absent if omitted
    missing_sections: list[str]
    owner_id: str
    owner_username: str
    package_date: str | None  # newest message or event timestamp, YYYY-MM-DDTHH:MM:SSZ
    messages: int
    messages_per_channel: dict[str, int]
    messages_per_dm_person: dict[str, int]  # other user id ("Deleted User" kept as one key)
    messages_per_guild: dict[str, int]  # "unknown" for channels of left servers
    messages_per_day: dict[str, int]
    channels_with_messages: int
    guilds_with_messages: int  # "unknown" excluded
    people_with_messages: int
    channel_folders: int
    events: dict[str, int]  # counted event types, from the folder a parser picks per family
    event_sources: dict[str, str]
    activity_lines: dict[str, int]  # folder -> lines written
    lines_without_event_type: int
    voice_minutes: float
    voice_sessions: int
    sessions: int
    session_minutes: float
    reactions_by_emoji: dict[str, int]  # "name" or "name:id" for custom emojis
    friends: int
    blocked: int
    payments_successful: int
    payments_by_currency: dict[str, int]
    payments_virtual: dict[str, int]
    secret_strings: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        """The truth as JSON bytes."""
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


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


def generate_package(path: str | Path, spec: SampleSpec) -> SampleTruth:
    """Write the package zip at `path`, streaming every member, and return what was written."""
    _validate(spec)
    counts = derive_counts(spec.messages, spec.channels, spec.guilds, spec.dms)
    tl = build_timeline(random.Random(f"{spec.seed}:timeline"), spec.end_date, spec.days)
    world = build_world(
        random.Random(f"{spec.seed}:world"), counts, tl.start, spec.days, spec.owner_name
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
        money = _write_sections(pz, spec, world, tl, names, tally)
    finally:
        pz.close()
    return _truth(spec, world, tally, names, money)


def _write_sections(
    pz: PackageZip, spec: SampleSpec, world: World, tl: Any, names: dict[str, str], tally: Tally
) -> tuple:
    rng = random.Random(f"{spec.seed}:package")
    records, real, virtual = payments(rng, spec.layout, spec.end_date)
    email = f"{world.owner.username.replace('_', '.')}+{spec.seed}@example.org"
    pz.write_bytes("README.txt", readme())
    if "account" not in spec.partial:
        write_account(
            pz,
            names["account"],
            spec.layout,
            user_json(world, spec.layout, spec.language, email, records),
            records,
        )
        tally.secrets.append(email)
    if "messages" not in spec.partial:
        pool = content_pool(random.Random(f"{spec.seed}:texts"), spec.language)
        write_messages(
            pz, names["messages"], spec.layout, world, tl, rng, pool, spec.messages, tally
        )
    if "servers" not in spec.partial:
        write_servers(pz, names["servers"], world)
    if "activity" not in spec.partial:
        final = tally.newest_us is None
        write_activity(
            pz,
            names["activity"],
            world,
            tl,
            tally,
            spec.events,
            spec.shards,
            spec.seed,
            PLACES[spec.language],
            final,
        )
    if spec.layout == "D":
        write_extras(pz, world)
    return records, real, virtual


def _resolve_events(tally: Tally) -> tuple[dict[str, int], dict[str, str]]:
    """Per counted type, the first folder (analytics, modeling, reporting, tns) that has it."""
    events, sources = {}, {}
    for event_type in COUNTED:
        for folder in FOLDERS:
            count = tally.events.get(folder, {}).get(event_type, 0)
            if count:
                events[event_type], sources[event_type] = count, folder
                break
    return events, sources


def _truth(
    spec: SampleSpec, world: World, tally: Tally, names: dict[str, str], money: tuple
) -> SampleTruth:
    events, sources = _resolve_events(tally)
    has_account = "account" not in spec.partial
    records, real, virtual = money if has_account else ([], {}, {})
    kinds = [kind for _, kind in world.relationships] if has_account else []
    prefix = WRAPPER if spec.wrap else ""
    return SampleTruth(
        layout=spec.layout,
        language=spec.language,
        seed=spec.seed,
        folders={s: prefix + n for s, n in names.items() if s not in spec.partial},
        missing_sections=[s for s in SECTIONS if s in spec.partial],
        owner_id=world.owner.id,
        owner_username=world.owner.username,
        package_date=iso_z(tally.newest_us) if tally.newest_us is not None else None,
        messages=tally.messages,
        messages_per_channel=dict(tally.per_channel),
        messages_per_dm_person=dict(tally.per_dm),
        messages_per_guild=dict(tally.per_guild),
        messages_per_day=dict(sorted(tally.per_day.items())),
        channels_with_messages=len(tally.per_channel),
        guilds_with_messages=len([g for g in tally.per_guild if g != "unknown"]),
        people_with_messages=len(tally.per_dm),
        channel_folders=tally.channel_folders,
        events=events,
        event_sources=sources,
        activity_lines=dict(tally.lines),
        lines_without_event_type=tally.no_event_type,
        voice_minutes=round(tally.voice_ms / 60_000, 1),
        voice_sessions=tally.voice_sessions,
        sessions=tally.sessions,
        session_minutes=round(tally.session_ms / 60_000, 1),
        reactions_by_emoji=dict(tally.reactions_by_folder.get(sources.get("add_reaction", ""), {})),
        friends=kinds.count(1),
        blocked=kinds.count(2),
        payments_successful=sum(1 for r in records if r["status"] == 1),
        payments_by_currency=dict(real),
        payments_virtual=dict(virtual),
        secret_strings=list(tally.secrets),
    )


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m parsers.sample", description=__doc__.splitlines()[0]
    )
    cli.add_argument("out", type=Path, help="the zip to write")
    cli.add_argument("--layout", choices=LAYOUTS, default="D")
    cli.add_argument("--messages", type=int, default=1000)
    cli.add_argument("--events", type=int, default=2000)
    for name in ("channels", "guilds", "dms"):
        cli.add_argument(f"--{name}", type=int, default=None)
    cli.add_argument("--language", choices=sorted(FOLDER_NAMES), default="en")
    cli.add_argument("--wrap", action="store_true", help="put everything under one wrapper folder")
    cli.add_argument("--shards", type=int, default=1)
    cli.add_argument(
        "--partial", default="", help="sections to omit: account,messages,servers,activity"
    )
    cli.add_argument("--seed", type=int, default=1)
    cli.add_argument("--end-date", type=date.fromisoformat, default=date(2024, 5, 1))
    cli.add_argument("--days", type=int, default=730)
    cli.add_argument("--truth", type=Path, default=None, help="also write the truth as JSON here")
    cli.add_argument("--upn-owner-name", default=None, help="the owner's username")
    return cli


def spec_from_args(args: argparse.Namespace) -> SampleSpec:
    """The spec the command line describes."""
    partial = frozenset(p.strip() for p in args.partial.split(",") if p.strip())
    return SampleSpec(
        layout=args.layout,
        messages=args.messages,
        events=args.events,
        channels=args.channels,
        guilds=args.guilds,
        dms=args.dms,
        language=args.language,
        wrap=args.wrap,
        shards=args.shards,
        partial=partial,
        seed=args.seed,
        end_date=args.end_date,
        days=args.days,
        owner_name=args.upn_owner_name,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    cli = _parser()
    args = cli.parse_args(argv)
    try:
        truth = generate_package(args.out, spec_from_args(args))
    except ValueError as exc:
        cli.error(str(exc))
    if args.truth is not None:
        args.truth.write_bytes(truth.to_json())
    lines = sum(truth.activity_lines.values())
    print(f"{args.out}: {truth.messages} messages, {lines} activity lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
