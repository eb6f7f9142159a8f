"""Smaller reading rules: servers fallback, labels, odd types, old timestamps, layout guesses."""

import pytest

from parsers.archive.layout import folder_language
from parsers.instants import parse_instant
from tests.parsers.zipbuild import (
    DM,
    FRIEND,
    GENERAL,
    GUILD,
    OWNER,
    analyze,
    event,
    package,
    user_json,
)

CAROL = "200000000000000030"
END = "2024-05-01 12:00:00"


def test_servers_found_by_index_json_alone(tmp_path):
    files = package("C", messages={GENERAL: [("1", END, "")]})
    del files[f"servers/{GUILD}/guild.json"]
    files["servers/index.json"] = {GUILD: "Named from index", "300000000000000099": "Idle"}
    _, views = analyze(tmp_path, files)
    assert views["about"]["missing_sections"] == []
    assert views["guild:300000000000000099"]["name"] == "Idle"
    assert views["guild:300000000000000099"]["periods"]["lifetime"]["days"] == 1
    assert views[f"guild:{GUILD}"]["name"] == "Named from index"


def test_dm_name_from_index_label_and_string_or_numeric_fields(tmp_path):
    channels = {
        DM: {"id": int(DM), "type": "1", "recipients": [int(OWNER), int(CAROL)]},
        GENERAL: {
            "id": GENERAL,
            "type": "GUILD_ANNOUNCEMENT",
            "name": "news",
            "guild": {"id": int(GUILD)},
        },
    }
    files = package(
        "C", channels=channels, messages={DM: [("1", END, "")], GENERAL: [("2", END, "")]}
    )
    files["messages/index.json"] = {DM: "Direct Message with carol#0", GENERAL: "news in Guild"}
    user = user_json()
    user["relationships"][0]["type"] = "1"
    files["account/user.json"] = user
    _, views = analyze(tmp_path, files)
    person = views[f"dm:{CAROL}"]
    assert (person["username"], person["display_name"], person["channel_ids"]) == (
        "carol",
        "carol",
        [DM],
    )
    assert views[f"channel:{DM}"]["name"] == "carol"
    channel = views[f"channel:{GENERAL}"]
    assert (channel["kind"], channel["guild_id"], channel["guild_name"]) == (
        "guild",
        GUILD,
        "Guild",
    )
    assert views[f"user:{FRIEND}"]["relationship"] == "FRIEND"


def test_channel_folder_without_channel_json(tmp_path):
    files = package("C", messages={DM: [("1", END, "")], GENERAL: [("2", END, "")]})
    del files[f"messages/c{DM}/channel.json"]
    del files[f"messages/c{GENERAL}/channel.json"]
    files["messages/index.json"] = {DM: "Direct Message with dave#1234", GENERAL: "general in Old"}
    _, views = analyze(tmp_path, files)
    assert views[f"dm_channel:{DM}"] == {"user_id": f"unknown-{DM}"}
    assert views[f"dm:unknown-{DM}"]["username"] == "dave"
    assert views[f"channel:{GENERAL}"]["guild_id"] == "unknown"


def test_timestamps_before_discord_and_odd_shapes():
    assert parse_instant("2010-01-01 00:00:00") is None
    assert parse_instant("null") is None and parse_instant(None) is None
    # digits float() refuses (superscripts, circled) are no instant; other scripts' decimals are
    assert parse_instant("²") is None and parse_instant("①.5") is None
    assert parse_instant("\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660") == 1.7e9
    assert (
        parse_instant('"2024-01-15T21:03:07.250Z"') == parse_instant("2024-01-15 21:03:07") + 0.25
    )
    assert parse_instant("2024-01-15T23:03:07+02:00") == parse_instant("2024-01-15T21:03:07Z")
    assert parse_instant("1705352587000") == parse_instant("2024-01-15T21:03:07Z")
    assert parse_instant(1705352587) == parse_instant("2024-01-15T21:03:07Z")
    assert parse_instant("2024-13-01 00:00:00") is None


def test_old_messages_are_skipped_not_counted(tmp_path):
    rows = {GENERAL: [("1", END, ""), ("2", "1970-01-01 00:00:00", "")]}
    _, views = analyze(tmp_path, package("B", messages=rows))
    assert views["overview"]["messages"] == 1
    assert views["about"]["read"]["skipped"]["by_reason"] == {"invalid_timestamp": 1}
    assert views["stats:lifetime"]["days"] == 1


def test_group_dm_voice_and_unknown_call_channel(tmp_path):
    lines = [
        event("join_voice_channel", "2024-05-01T10:00:00Z", channel_id="400000000000000007"),
        event("leave_voice_channel", "2024-05-01T10:06:00Z", channel_id="400000000000000007"),
        event("join_voice_channel", "2024-05-01T11:00:00Z", channel_id="700000000000000001"),
        event("leave_voice_channel", "2024-05-01T11:03:00Z", channel_id="700000000000000001"),
    ]
    _, views = analyze(tmp_path, package("C", events={"analytics": lines}))
    entries = views["top:channels:l4w"]["entries"]
    assert [(row["kind"], row["voice_minutes"]) for row in entries] == [
        ("group_dm", 6.0),
        ("dm", 3.0),
    ]
    assert views["top:dms:l4w"]["entries"] == []


def test_folder_language_table():
    assert folder_language(["Account", "Messages"]) == "en"
    assert folder_language(["Messages"]) == "en"
    assert folder_language(["Compte", "Messages", "Activité"]) == "fr"
    assert folder_language(["Mensagens", "Servidores"]) == "pt"
    assert folder_language(["Servidores"]) == "es"
    assert folder_language(["Xyz"]) is None


@pytest.mark.parametrize(
    "label, name",
    [
        ("general in My server", "general"),
        ("memes in Cats in Hats", "memes"),
        ("pals", "pals"),
        ("None", None),
        ("Unknown channel", None),
        ("", None),
        (None, None),
    ],
)
def test_index_labels_give_channel_names_not_placeholders(label, name):
    from parsers.sources.channels import label_channel_name

    assert label_channel_name(label) == name
