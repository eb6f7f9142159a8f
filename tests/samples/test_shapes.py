"""The generator's shapes (voice-heavy, many entities, long history, many shards and folders,
varied key order): what they write, read back with the standard library, equals their truth."""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter, defaultdict

import pytest

from samples import SampleSpec, generate_package
from samples.cli import main
from tests.samples.test_generate import (
    EVENTS_FILE,
    channel_folders,
    paired_minutes,
    recount_events,
    recount_messages,
)

SMALL = {"messages": 400, "events": 1500, "days": 120}
ALL_FALLBACKS = frozenset({"modeling", "reporting", "tns"})
# Keys the generator adds in the usual order too; the rest of a varied line are unknown keys.
UNKNOWN = {
    "location", "location_section", "referring_domain", "search_engine", "parent_channel_id",
    "source_guild_id", "message_send_timestamp", "previous_os", "is_premium", "num_guilds",
    "channel_type", "load_id", "mobile_network_type",
}  # fmt: skip
USUAL_END = ["timestamp", "client_track_timestamp", "day", "experiment_buckets"]


def build(tmp_path, name="p.zip", **fields):
    """Generate a package in tmp_path and return (zip path, truth)."""
    path = tmp_path / name
    return path, generate_package(path, SampleSpec(**{**SMALL, **fields}))


def shard_lines(path):
    """folder -> shard name -> raw lines, for every events-*.json member."""
    found = defaultdict(dict)
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            match = EVENTS_FILE.search(name)
            if match:
                found[match.group(1)][name] = zf.read(name).decode().splitlines()
    return found


def kind_of(line: str) -> str:
    """Where event_type and timestamp sit in one line."""
    keys = list(json.loads(line))
    if keys[0] == "timestamp":
        return "timestamp first"
    if keys[:2] == ["event_type", "event_id"] and keys[-4:] == USUAL_END:
        return "usual"
    if keys[0] == "event_type":
        return "event type first"
    return "event type last" if keys[-1] == "event_type" else "event type inside"


def test_key_order_changes_the_order_only(tmp_path):
    fixed_path, fixed = build(tmp_path, "f.zip", seed=4)
    varied_path, varied = build(tmp_path, "v.zip", seed=4, key_order="per_line")
    assert varied == fixed  # the same events, counted the same
    fixed_lines, varied_lines = shard_lines(fixed_path), shard_lines(varied_path)
    for folder, shards in fixed_lines.items():
        for name, lines in shards.items():
            again = [json.loads(line) for line in varied_lines[folder][name]]
            known = [{k: v for k, v in e.items() if k not in UNKNOWN} for e in again]
            assert known == [json.loads(line) for line in lines]
    lines = [line for shards in varied_lines.values() for ls in shards.values() for line in ls]
    typed = [line for line in lines if '"event_type"' in line]
    assert Counter(map(kind_of, typed)).keys() == {
        "usual", "event type first", "timestamp first", "event type inside", "event type last"
    }  # fmt: skip
    assert sum(1 for line in typed if UNKNOWN & set(json.loads(line))) > len(typed) / 3
    assert any(re.search(r',"timestamp":.*"event_type":', line) for line in typed)


def test_key_order_per_shard_keeps_one_kind_per_shard(tmp_path):
    path, truth = build(tmp_path, key_order="per_shard", shards=12, events=3000)
    _, fixed = build(tmp_path, "f.zip", shards=12, events=3000)
    assert truth == fixed
    kinds = set()
    for name, lines in shard_lines(path)["analytics"].items():
        shard_kinds = {kind_of(line) for line in lines if '"event_type"' in line}
        assert len(shard_kinds) == 1, name
        kinds |= shard_kinds
    assert len(kinds) >= 3


def test_truth_of_every_shape_matches_a_recount(tmp_path):
    for index, fields in enumerate(
        (
            {"key_order": "per_line", "voice_channels": 50, "voice_weight": 30},
            {"shards": 5, "fallback_folders": ALL_FALLBACKS, "fallback_shards": 3},
            {"days": 8 * 365, "layout": "B", "key_order": "per_shard", "shards": 4},
        )
    ):
        path, truth = build(tmp_path, f"{index}.zip", seed=index + 1, **fields)
        with zipfile.ZipFile(path) as zf:
            per_channel, per_dm, per_guild, per_day, _ = recount_messages(zf)
            chosen, _ = recount_events(zf)
        assert truth.messages_per_channel == dict(per_channel)
        assert (truth.messages_per_dm_person, truth.messages_per_guild) == (per_dm, per_guild)
        assert truth.messages_per_day == dict(per_day)
        assert truth.events == {t: n for t, (n, _) in chosen.items()}
        assert truth.event_sources == {t: f for t, (_, f) in chosen.items()}


def analytics_events(path):
    """The decoded lines of analytics that carry an event_type."""
    shards = shard_lines(path)["analytics"].values()
    events = [json.loads(line) for lines in shards for line in lines]
    return [e for e in events if "event_type" in e]


def test_voice_heavy_spreads_sessions_over_hundreds_of_channels(tmp_path):
    shape = {"voice_channels": 300, "voice_weight": 40, "channels": 120, "events": 6000}
    path, truth = build(tmp_path, days=60, **shape)
    events = analytics_events(path)
    by_channel = defaultdict(list)
    for event in events:
        if event["event_type"] in ("join_voice_channel", "leave_voice_channel"):
            by_channel[event["channel_id"]].append(event)
    minutes = {
        c: paired_minutes(evs, "join_voice_channel", "leave_voice_channel")
        for c, evs in by_channel.items()
    }
    assert truth.voice_minutes_per_channel == dict(sorted(minutes.items()))
    assert len(minutes) >= 200 and truth.voice_sessions > 700
    guilds = {e.get("guild_id") for evs in by_channel.values() for e in evs}
    assert len(guilds) >= 6 and None in guilds  # spread over servers, and calls in DMs
    _, usual = build(tmp_path, "u.zip", channels=120, events=6000, days=60)
    assert truth.messages_per_channel == usual.messages_per_channel  # same world otherwise


def test_many_shards_and_every_fallback_folder(tmp_path):
    path, truth = build(
        tmp_path, shards=16, fallback_folders=ALL_FALLBACKS, fallback_shards=4, fallback_share=0.3
    )
    lines = shard_lines(path)
    assert {f: len(s) for f, s in lines.items()} == {
        "analytics": 16, "modeling": 4, "reporting": 4, "tns": 4
    }  # fmt: skip
    assert {f: sum(map(len, s.values())) for f, s in lines.items()} == truth.activity_lines
    assert truth.activity_lines["modeling"] == 450 and truth.event_sources["message_reported"]
    _, only = build(tmp_path, "o.zip", seed=2, fallback_folders=frozenset({"tns"}))
    assert set(only.activity_lines) == {"analytics", "tns"}
    assert only.event_sources["message_reported"] == "tns" and "email_opened" not in only.events


def test_many_entities(tmp_path):
    path, truth = build(tmp_path, layout="C", channels=5000, dms=500, messages=3000, events=200)
    with zipfile.ZipFile(path) as zf:
        metas = [json.loads(zf.read(f + "channel.json")) for f in channel_folders(zf).values()]
    assert len(metas) == truth.channel_folders == 5000
    assert Counter(m["type"] for m in metas)["DM"] == 500


def test_long_history_keeps_ids_and_dates_valid(tmp_path):
    path, truth = build(tmp_path, layout="A", days=8 * 365, messages=3000, events=3000)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        user = json.loads(zf.read("account/user.json"))
    ids = [m.group(1) for n in names if (m := re.search(r"/c?(-?\d+)/(channel|guild)\.json$", n))]
    assert all(re.fullmatch(r"\d{17,20}", i) for i in [*ids, user["id"]])
    days = sorted(truth.messages_per_day)
    assert days[0] < "2017-06-01" and days[-1] == "2024-05-01"


@pytest.mark.parametrize(
    "fields",
    [
        {"key_order": "sorted"},
        {"fallback_folders": frozenset({"analytics"})},
        {"fallback_shards": 0},
        {"voice_channels": 0},
        {"voice_weight": -1.0},
    ],
)
def test_invalid_shape_options(tmp_path, fields):
    with pytest.raises(ValueError):
        build(tmp_path, **fields)


def test_cli_shape_options(tmp_path, capsys):
    out, truth_path = tmp_path / "cli.zip", tmp_path / "truth.json"
    options = (
        "--events 900 --messages 100 --days 60 --shards 3 --fallback-folders modeling,tns "
        "--fallback-shards 2 --fallback-share 0.1 --key-order per_shard --voice-channels 40 "
        "--voice-weight 20"
    )
    assert main([str(out), *options.split(), "--truth", str(truth_path)]) == 0
    truth = json.loads(truth_path.read_bytes())
    assert truth["activity_lines"] == {"analytics": 900, "modeling": 90, "tns": 90}
    assert len(truth["voice_minutes_per_channel"]) > 10
    assert {f: len(s) for f, s in shard_lines(out).items()} == {
        "analytics": 3, "modeling": 2, "tns": 2
    }  # fmt: skip
