"""Command line of the sample generator.

python -m samples OUT.zip --layout D --messages 1000 --events 2000 --truth OUT.json
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from samples.generate import FOLDER_NAMES, LAYOUTS, SampleSpec, generate_package
from samples.key_order import KEY_ORDERS

_DESCRIPTION = "Deterministic generator of realistic Discord data packages (layouts A-D)."


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m samples", description=_DESCRIPTION)
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
    cli.add_argument("--macosx", action="store_true", help="add __MACOSX/ junk entries")
    cli.add_argument("--zip64", action="store_true", help="force ZIP64 on every member")
    cli.add_argument("--no-directory-entries", action="store_true")
    _shape_arguments(cli)
    return cli


def _shape_arguments(cli: argparse.ArgumentParser) -> None:
    cli.add_argument("--voice-channels", type=int, default=None, help="server voice channels")
    cli.add_argument("--voice-weight", type=float, default=None, help="voice pairs in the mix")
    cli.add_argument(
        "--fallback-folders", default=None, help="of modeling,reporting,tns (default: by seed)"
    )
    cli.add_argument("--fallback-shards", type=int, default=1)
    cli.add_argument("--fallback-share", type=float, default=None, help="lines per analytics line")
    cli.add_argument("--key-order", choices=KEY_ORDERS, default="fixed")


def _names(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(p.strip() for p in text.split(",") if p.strip())


def spec_from_args(args: argparse.Namespace) -> SampleSpec:
    """The spec the command line describes."""
    partial = _names(args.partial) or frozenset()
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
        macosx=args.macosx,
        zip64=args.zip64,
        directory_entries=not args.no_directory_entries,
        voice_channels=args.voice_channels,
        voice_weight=args.voice_weight,
        fallback_folders=_names(args.fallback_folders),
        fallback_shards=args.fallback_shards,
        fallback_share=args.fallback_share,
        key_order=args.key_order,
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
