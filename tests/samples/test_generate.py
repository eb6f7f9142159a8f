"""The sample package generator: formats of every layout, switches, determinism and its truth."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import struct
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime

import pytest

from samples import FOLDER_NAMES, WRAPPER, SampleSpec, generate_package
from samples.cli import main

SMALL = {"messages": 400, "events": 600, "days": 120}
FOLDER_ORDER = ("analytics", "modeling", "reporting", "tns")
COUNTED = {
    "app_opened", "session_start", "session_end", "join_voice_channel", "leave_voice_channel",
    "join_call", "start_call", "guild_joined", "add_reaction", "message_edited", "message_deleted",
    "send_message", "application_command_used", "slash_command_used", "notification_clicked",
    "email_opened", "login_successful", "app_crashed", "captcha_served", "user_avatar_updated",
    "remote_auth_login", "oauth2_authorize_accepted", "voice_message_recorded", "message_reported",
    "premium_upsell_viewed",
}  # fmt: skip
CHANNEL_DIR = re.compile(r"(?:^|/)c?(\d{16,32})/channel\.json$")
EVENTS_FILE = re.compile(r"/(analytics|modeling|reporting|tns)/events-\d{4}-\d{5}-of-\d{5}\.json$")
CSV_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
EVENT_STAMP = re.compile(r'"timestamp":"\\"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\\""')


def build(tmp_path, name="p.zip", **fields):
    """Generate a package in tmp_path and return (zip path, truth)."""
    path = tmp_path / name
    truth = generate_package(path, SampleSpec(**{**SMALL, **fields}))
    return path, truth


@pytest.fixture(scope="module", params=["A", "B", "C", "D"])
def package(request, tmp_path_factory):
    """One small package per layout, shared by the tests of this module."""
    spec = SampleSpec(layout=request.param, shards=2, seed=7, **SMALL)
    path = tmp_path_factory.mktemp(request.param) / "package.zip"
    return path, generate_package(path, spec), spec


def read_json(zf, name):
    return json.loads(zf.read(name))


def channel_folders(zf):
    """channel id -> folder (with trailing slash) of every channel.json."""
    found = {}
    for name in zf.namelist():
        match = CHANNEL_DIR.search(name)
        if match and not name.startswith("__MACOSX"):
            found[match.group(1)] = name[: -len("channel.json")]
    return found


def read_messages(zf, folder):
    """(timestamp string, contents) rows of one channel folder, empty when it has no file."""
    names = set(zf.namelist())
    if folder + "messages.csv" in names:
        text = zf.read(folder + "messages.csv").decode()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        return [(r["Timestamp"], r["Contents"]) for r in rows]
    if folder + "messages.json" in names:
        return [(m["Timestamp"], m["Contents"]) for m in read_json(zf, folder + "messages.json")]
    return []


def stamp_key(stamp):
    """Comparable `YYYY-MM-DDTHH:MM:SS` of a message or event timestamp."""
    return stamp.replace(" ", "T")[:19]


def recount_messages(zf):
    """Messages per channel, DM person and guild, read back with the standard library."""
    per_channel, per_dm, per_guild, per_day, newest = Counter(), Counter(), Counter(), Counter(), ""
    for cid, folder in channel_folders(zf).items():
        rows = read_messages(zf, folder)
        if not rows:
            continue
        meta = read_json(zf, folder + "channel.json")
        per_channel[cid] += len(rows)
        if meta["type"] in (1, "DM"):
            per_dm[meta["recipients"][1]] += len(rows)
        elif meta["type"] not in (3, "GROUP_DM"):
            per_guild[meta.get("guild", {}).get("id", "unknown")] += len(rows)
        per_day.update(stamp[:10] for stamp, _ in rows)
        newest = max([newest] + [stamp_key(s) for s, _ in rows])
    return per_channel, per_dm, per_guild, per_day, newest


def recount_events(zf):
    """Counted events per type from the folder a parser would pick, plus the newest timestamp."""
    by_folder, newest = defaultdict(Counter), ""
    for name in zf.namelist():
        match = EVENTS_FILE.search(name)
        if not match:
            continue
        for line in zf.read(name).decode().splitlines():
            event = json.loads(line)
            if "event_type" in event:
                by_folder[match.group(1)][event["event_type"]] += 1
                newest = max(newest, stamp_key(json.loads(event["timestamp"])))
    chosen = {}
    for event_type in COUNTED:
        folder = next((f for f in FOLDER_ORDER if by_folder[f][event_type]), None)
        if folder:
            chosen[event_type] = (by_folder[folder][event_type], folder)
    return chosen, newest


def test_layout_paths_and_formats(package):
    path, truth, spec = package
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        folders = channel_folders(zf)
        if spec.layout == "A":
            assert all(f.startswith("messages/") and "/c" not in f for f in folders.values())
        else:
            assert all(re.fullmatch(r"(messages|Messages)/c\d+/", f) for f in folders.values())
        ext = "messages.csv" if spec.layout in "AB" else "messages.json"
        assert any(n.endswith(ext) for n in names)
        assert not any(
            n.endswith("messages.json" if ext == "messages.csv" else "messages.csv") for n in names
        )
        tops = {n.split("/")[0] for n in names if "/" in n}
        expected = set(truth.folders.values())
        assert expected <= tops
        if spec.layout == "D":
            assert {
                "Account",
                "Messages",
                "Servers",
                "Activity",
                "Activities",
                "Ads",
                "Support_Tickets",
            } <= tops
        else:
            assert expected == {"account", "messages", "servers", "activity"}


def test_channel_variety(package):
    path, truth, spec = package
    strings = spec.layout in "CD"
    with zipfile.ZipFile(path) as zf:
        metas = [read_json(zf, f + "channel.json") for f in channel_folders(zf).values()]
        index = read_json(zf, f"{truth.folders['messages']}/index.json")
        no_file = [f for f in channel_folders(zf).values() if not read_messages(zf, f)]
    types = Counter(m["type"] for m in metas)
    assert types["DM" if strings else 1] >= 4 and types["GROUP_DM" if strings else 3] >= 2
    dm_others = Counter(m["recipients"][1] for m in metas if m["type"] in (1, "DM"))
    assert dm_others["Deleted User"] == 1 and max(dm_others.values()) >= 2  # duplicate DMs
    assert any(
        "guild" not in m and "name" not in m and m["type"] in (0, "GUILD_TEXT") for m in metas
    )
    assert any("name" in m for m in metas if m["type"] in (3, "GROUP_DM"))
    assert any("name" not in m for m in metas if m["type"] in (3, "GROUP_DM"))
    assert None in index.values() and any(
        v.startswith("Direct Message with") for v in index.values() if v
    )
    assert len(no_file) >= 2  # one empty messages file and one folder without one


def test_messages_csv_format(tmp_path):
    path, _ = build(tmp_path, layout="B", messages=3000)
    with zipfile.ZipFile(path) as zf:
        files = [n for n in zf.namelist() if n.endswith("messages.csv")]
        raw = b"".join(zf.read(n) for n in files).decode()
        rows = [r for n in files for r in csv.reader(io.StringIO(zf.read(n).decode(), newline=""))]
    assert raw.startswith("ID,Timestamp,Contents,Attachments\r\n")
    assert all(
        row == ["ID", "Timestamp", "Contents", "Attachments"] or CSV_STAMP.match(row[1])
        for row in rows
    )
    stamps = [row[1] for row in rows if row[0] != "ID"]
    assert any("." not in s for s in stamps) and any("." in s for s in stamps)
    assert any("\n" in row[2] for row in rows) and '""' in raw  # multi-line and doubled quotes
    assert any(row[2] == "" for row in rows[1:]) and any(
        row[3].startswith("https://") for row in rows
    )


def test_messages_json_format(tmp_path):
    path, _ = build(tmp_path, layout="C", messages=2000)
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n).decode() for n in zf.namelist() if n.endswith("messages.json")}
    assert "[]" in files.values()
    text = max(files.values(), key=len)
    assert text.startswith('[{"ID":') and text.endswith("}]") and "},\n{" in text
    first_id = re.match(r'\[\{"ID":(\d+),', text).group(1)
    assert int(first_id) > 2**53
    messages = json.loads(text)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", m["Timestamp"]) for m in messages)
    assert any(m["Contents"] == "" for ms in map(json.loads, files.values()) for m in ms)


def test_truth_matches_recount(package):
    path, truth, spec = package
    with zipfile.ZipFile(path) as zf:
        per_channel, per_dm, per_guild, per_day, newest_message = recount_messages(zf)
        chosen, newest_event = recount_events(zf)
    assert truth.messages == sum(per_channel.values()) == spec.messages
    assert truth.messages_per_channel == dict(per_channel)
    assert truth.messages_per_dm_person == dict(per_dm)
    assert truth.messages_per_guild == dict(per_guild)
    assert truth.messages_per_day == dict(per_day)
    assert truth.people_with_messages == len(per_dm)
    assert truth.guilds_with_messages == len([g for g in per_guild if g != "unknown"])
    assert truth.events == {t: n for t, (n, _) in chosen.items()}
    assert truth.event_sources == {t: f for t, (_, f) in chosen.items()}
    assert truth.package_date == max(newest_message, newest_event) + "Z"


def test_truth_account_figures(package):
    path, truth, spec = package
    with zipfile.ZipFile(path) as zf:
        user = read_json(zf, f"{truth.folders['account']}/user.json")
        if spec.layout == "D":
            records = read_json(zf, "Account/user_data_exports/discord_billing/payments.json")[
                "records"
            ]
            assert "payments" not in user
        else:
            records = user["payments"]
        blob = b"".join(zf.read(n) for n in zf.namelist())
    kinds = Counter(r["type"] for r in user["relationships"])
    assert (
        truth.friends == kinds[1] + kinds["FRIEND"] and truth.blocked == kinds[2] + kinds["BLOCKED"]
    )
    assert all(
        isinstance(r["type"], str if spec.layout in "CD" else int) for r in user["relationships"]
    )
    money = Counter()
    for record in records:
        if record["status"] == 1:
            money[record["currency"].lower()] += record["amount"]
    assert truth.payments_virtual == {"discord_orb": money.pop("discord_orb")}
    assert truth.payments_by_currency == dict(money)
    assert truth.owner_id == user["id"] and user["email"] in truth.secret_strings
    assert len(truth.secret_strings) >= 3
    assert all(secret.encode() in blob for secret in truth.secret_strings)


def test_activity_lines(package):
    path, truth, spec = package
    with zipfile.ZipFile(path) as zf:
        shards = sorted(n for n in zf.namelist() if "/analytics/events-" in n)
        lines = [line for n in shards for line in zf.read(n).decode().splitlines()]
        reporting = [n for n in zf.namelist() if "/reporting/events-" in n]
    assert [n.rsplit("-", 3)[-3:] for n in shards] == [
        ["00000", "of", "00002.json"],
        ["00001", "of", "00002.json"],
    ]
    assert len(lines) == spec.events == truth.activity_lines["analytics"] and reporting
    typed = [line for line in lines if line.startswith('{"event_type":')]
    assert len(lines) - len(typed) == truth.lines_without_event_type >= 1
    assert all(1150 <= len(line.encode()) <= 1800 for line in typed)
    assert all(EVENT_STAMP.search(line) for line in typed)
    assert any('"client_track_timestamp":"null"' in line for line in typed)
    events = [json.loads(line) for line in typed]
    assert all(isinstance(e["day"], str) for e in events)
    kinds = Counter(e["event_type"] for e in events)
    assert kinds["send_message_failure"] >= 1 and "email_opened" not in kinds
    assert {
        "session_start",
        "join_voice_channel",
        "add_reaction",
        "application_command_used",
    } <= set(kinds)
    assert any("emoji_id" in e for e in events if e["event_type"] == "add_reaction")
    assert any(e.get("application_id") == "-1" for e in events if "application_id" in e)
    voice = [e for e in events if e["event_type"] == "join_voice_channel"]
    assert any("guild_id" in e for e in voice) and any("guild_id" not in e for e in voice)
    assert truth.event_sources["email_opened"] == "reporting"
    assert truth.voice_minutes == paired_minutes(
        events, "join_voice_channel", "leave_voice_channel"
    )
    assert truth.session_minutes == paired_minutes(events, "session_start", "session_end")
    reactions = Counter(
        f"{e['emoji_name']}:{e['emoji_id']}" if "emoji_id" in e else e["emoji_name"]
        for e in events
        if e["event_type"] == "add_reaction"
    )
    assert truth.reactions_by_emoji == dict(reactions)
    reacted = [e for e in events if e["event_type"] == "add_reaction"]
    assert truth.reactions_per_channel == dict(Counter(e["channel_id"] for e in reacted))
    commands = Counter(
        f"{e['guild_id']}:{e['application_id']}"
        for e in events
        if e["event_type"] == "application_command_used"
    )
    assert truth.commands_per_guild_app == dict(commands)


def paired_minutes(events, start, end):
    """Minutes between start/end events paired in client time order."""
    pair = [e for e in events if e["event_type"] in (start, end)]
    pair.sort(key=lambda e: (json.loads(e["client_track_timestamp"]), e["event_type"] == start))
    moments = [datetime.fromisoformat(json.loads(e["client_track_timestamp"])) for e in pair]
    kinds = [e["event_type"] for e in pair]
    assert kinds == [start, end] * (len(kinds) // 2)  # never overlapping
    seconds = sum((b - a).total_seconds() for a, b in zip(moments[::2], moments[1::2], strict=True))
    return round(seconds / 60, 1)


@pytest.mark.parametrize("language", sorted(FOLDER_NAMES))
def test_layout_d_languages(tmp_path, language):
    path, truth = build(tmp_path, layout="D", language=language, messages=50, events=60)
    account, messages, servers, activity = FOLDER_NAMES[language]
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert f"{account}/user.json" in names and f"{servers}/index.json" in names
    assert f"{account}/user_data_exports/discord_billing/payments.json" in names
    assert f"{messages}/index.json" in names
    assert f"{activity}/analytics/events-2024-00000-of-00001.json" in names
    assert truth.folders["activity"] == activity


def test_deterministic_per_seed(tmp_path):
    def digest(name, seed):
        path, _ = build(tmp_path, name, layout="D", seed=seed)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest("a.zip", 3) == digest("b.zip", 3)
    assert digest("c.zip", 4) != digest("a.zip", 3)


@pytest.mark.parametrize("section", ["account", "messages", "servers", "activity"])
def test_partial_omits_sections(tmp_path, section):
    path, truth = build(tmp_path, layout="B", partial=frozenset({section}))
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert not any(n.startswith(f"{section}/") for n in names)
    assert truth.missing_sections == [section] and section not in truth.folders
    assert truth.package_date is not None
    if section == "messages":
        assert truth.messages == 0 and truth.package_date.startswith("2024-05-01")
    if section == "account":
        assert truth.friends == 0 and truth.payments_by_currency == {}
    _, full = build(tmp_path, "full.zip", layout="B")
    if section != "messages":  # omitting a section leaves the others as they were
        assert truth.messages_per_channel == full.messages_per_channel


def test_wrap_macosx_and_directory_entries(tmp_path):
    path, truth = build(tmp_path, layout="A", wrap=True, macosx=True, directory_entries=False)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    real = [n for n in names if not n.startswith("__MACOSX/")]
    assert all(n.startswith(WRAPPER) for n in real) and not any(n.endswith("/") for n in names)
    assert f"__MACOSX/{WRAPPER}account/._user.json" in names
    assert truth.folders["account"] == WRAPPER + "account"
    path, _ = build(tmp_path, "d.zip", layout="A")
    with zipfile.ZipFile(path) as zf:
        assert "account/" in zf.namelist() and not any(
            n.startswith("__MACOSX") for n in zf.namelist()
        )


def local_zip64(path, info):
    """Whether a member's local header carries a ZIP64 extra field."""
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        header = raw.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        raw.seek(name_len, 1)
        extra = raw.read(extra_len)
    return extra[:2] == b"\x01\x00"


def test_zip64_switch(tmp_path):
    forced, _ = build(tmp_path, "f.zip", layout="C", zip64=True, messages=30, events=30)
    plain, _ = build(tmp_path, "p.zip", layout="C", messages=30, events=30)
    with zipfile.ZipFile(forced) as zf:
        assert all(local_zip64(forced, i) for i in zf.infolist() if not i.is_dir())
    with zipfile.ZipFile(plain) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        assert not local_zip64(plain, infos[0])  # README.txt
        assert all(local_zip64(plain, i) for i in infos if "/events-" in i.filename)


def test_timestamps_within_span_and_denser_recently(tmp_path):
    _, truth = build(tmp_path, layout="C", messages=4000, days=400, end_date=date(2023, 6, 30))
    days = sorted(truth.messages_per_day)
    assert days[0] >= "2022-05-27" and days[-1] == "2023-06-30"
    recent = sum(n for d, n in truth.messages_per_day.items() if d >= "2022-12-13")
    assert recent > truth.messages / 2
    assert truth.package_date.startswith("2023-06-30T")


def test_seed_controls_fallback_folders(tmp_path):
    _, odd = build(tmp_path, "o.zip", seed=1, messages=20, events=200)
    _, even = build(tmp_path, "e.zip", seed=6, messages=20, events=200)
    assert set(odd.activity_lines) == {"analytics", "modeling", "reporting", "tns"}
    assert set(even.activity_lines) == {"analytics", "reporting"}
    assert odd.event_sources["message_reported"] == "tns" and "message_reported" not in even.events


def test_invalid_specs(tmp_path):
    with pytest.raises(ValueError):
        build(tmp_path, layout="E")
    with pytest.raises(ValueError):
        build(tmp_path, channels=6)
    with pytest.raises(ValueError):
        build(tmp_path, partial=frozenset({"emails"}))


def test_cli_writes_zip_and_truth(tmp_path, capsys):
    out, truth_path = tmp_path / "cli.zip", tmp_path / "truth.json"
    options = (
        "--layout A --messages 120 --events 90 --channels 14 --guilds 3 --dms 5 --language de "
        "--wrap --shards 2 --partial servers --seed 9 --end-date 2023-01-31 --days 60 "
        "--upn-owner-name alice_w --macosx --zip64 --no-directory-entries"
    )
    code = main([str(out), *options.split(), "--truth", str(truth_path)])
    assert code == 0 and "120 messages" in capsys.readouterr().out
    truth = json.loads(truth_path.read_bytes())
    assert truth["messages"] == 120 and truth["channel_folders"] == 14
    assert truth["owner_username"] == "alice_w" and truth["missing_sections"] == ["servers"]
    assert truth["package_date"].startswith("2023-01-31")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert f"{WRAPPER}activity/analytics/events-2023-00001-of-00002.json" in names
    assert f"__MACOSX/{WRAPPER}account/._user.json" in names and not any(
        n.endswith("/") for n in names
    )
