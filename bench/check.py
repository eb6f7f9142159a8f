"""A processed bench package against the generator's counts: a check of the full-size path (the
activity child process, many shards) that the small packages of the tests do not take."""

from __future__ import annotations

from pathlib import Path

from settings import Settings
from storage import open_store
from storage.crypto import PackageKey
from storage.links import parse_package_link

VIEWS = ("about", "overview", "stats:lifetime", "top:channels:lifetime")
MINUTE_STEP = 0.1  # minutes are rounded to 0.1 on both sides, from sums made differently


def read_views(data_dir: Path, link: str) -> dict[str, dict | None]:
    """The views a check needs, opened with the package's key, from the store under data_dir."""
    settings = Settings.from_env({"DATA_DIR": str(data_dir)})
    store = open_store(settings)
    try:
        parsed = parse_package_link(link)
        key = PackageKey(parsed.package_id, parsed.key_material, settings.server_secret())
        record = store.packages.get(parsed.package_id)
        if record is None:
            raise LookupError(f"package {parsed.package_id} is not in the store under {data_dir}")
        generation = record.generation
        found = {}
        for name in VIEWS:
            blob = store.statistics.get(parsed.package_id, generation, key.view_id(name))
            found[name] = None if blob is None else key.open(name, blob)
        return found
    finally:
        store.close()


def check_about(about: dict, truth: dict) -> list[str]:
    """What the package's `about` says differently from the generator's counts."""
    read = about["read"]
    return _differ(
        {
            "messages read": (read["lines"]["messages"], truth["messages"]),
            "activity lines": (read["lines"]["activity"], sum(truth["activity_lines"].values())),
            "no_event_type": (
                read["skipped"]["by_reason"].get("no_event_type", 0),
                truth["lines_without_event_type"],
            ),
            "sources": (about["activity_sources"], truth["event_sources"]),
            "package_date": (about["package_date"], truth["package_date"]),
        }
    )


def check_views(views: dict[str, dict | None], truth: dict) -> list[str]:
    """Every figure the views hold that the generator counted, compared; empty when all agree."""
    present = {name: view for name, view in views.items() if view is not None}
    missing = [name for name in views if name not in present]
    if missing:
        return [f"views missing: {', '.join(missing)}"]
    overview, stats = present["overview"], present["stats:lifetime"]
    channels = present["top:channels:lifetime"]["entries"]
    voice = {e["channel_id"]: e["voice_minutes"] for e in channels if e["voice_minutes"]}
    problems = check_about(present["about"], truth)
    problems += _differ(
        {
            "events": ({k: stats["events"].get(k, 0) for k in truth["events"]}, truth["events"]),
            "messages per channel": (
                {e["channel_id"]: e["messages"] for e in channels if e["messages"]},
                truth["messages_per_channel"],
            ),
            "voice channels": (sorted(voice), sorted(truth["voice_minutes_per_channel"])),
            "messages": (overview["messages"], truth["messages"]),
            "sessions": (overview["sessions"]["count"], truth["sessions"]),
            "reactions": (overview["reactions"], sum(truth["reactions_by_emoji"].values())),
        }
    )
    problems += _minutes("voice minutes", overview["voice_minutes"], truth["voice_minutes"])
    problems += _minutes(
        "session minutes", overview["sessions"]["minutes"], truth["session_minutes"]
    )
    for channel, minutes in truth["voice_minutes_per_channel"].items():
        problems += _minutes(f"voice minutes of {channel}", voice.get(channel, 0.0), minutes)
    return problems


def _differ(pairs: dict[str, tuple]) -> list[str]:
    return [_describe(name, got, want) for name, (got, want) in pairs.items() if got != want]


def _describe(name: str, got, want) -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        keys = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        sample = ", ".join(f"{k}: read {got.get(k)}, written {want.get(k)}" for k in keys[:3])
        return f"{name}: {len(keys)} differ ({sample})"
    return f"{name}: read {got}, written {want}"


def _minutes(name: str, got: float, want: float) -> list[str]:
    return [] if abs(got - want) <= MINUTE_STEP + 1e-9 else [f"{name}: read {got}, written {want}"]
