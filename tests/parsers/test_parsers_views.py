"""The views of docs/statistics.md, checked against hand-computed figures."""

from tests.parsers.zipbuild import (
    BLOCKED,
    DM,
    FRIEND,
    GENERAL,
    GROUP,
    GUILD,
    OWNER,
    analyze,
    package,
    standard_channels,
    user_json,
)

DM2 = "400000000000000010"
GONE = "400000000000000011"
LEFT = "400000000000000012"
END = "2024-05-01 12:00:00"  # the newest message: package date, a Wednesday


def test_period_boundaries_and_zero_filled_series(tmp_path):
    rows = {
        GENERAL: [
            ("1", END, "x"),
            ("2", "2024-04-04 23:59:59", "27 days before: in l4w"),
            ("3", "2024-04-03 00:00:00", "28 days before: not in l4w, in l1m"),
            ("4", "2024-04-02 05:00:00", "29 days before: in l1m"),
            ("5", "2024-04-01 05:00:00", "30 days before: not in l1m"),
            ("6", "2023-05-03 00:00:00", "364 days before: in ly"),
            ("7", "2023-05-02 23:59:59", "365 days before: not in ly"),
        ]
    }
    analysis, views = analyze(tmp_path, package("A", messages=rows))
    assert analysis.package_date.isoformat() == "2024-05-01T12:00:00+00:00"
    expected = {
        "l4w": (28, "2024-04-04", 2),
        "l1m": (30, "2024-04-02", 4),
        "ly": (365, "2023-05-03", 6),
    }
    for period, (days, start, total) in expected.items():
        stats = views[f"stats:{period}"]
        assert (stats["days"], stats["start"], stats["end"]) == (days, start, "2024-05-01")
        assert len(stats["messages"]["per_day"]) == days
        assert len(stats["voice"]["per_day"]) == days
        assert stats["messages"]["total"] == total, period
    lifetime = views["stats:lifetime"]
    assert lifetime["start"] == "2023-05-02" and lifetime["days"] == 366
    assert lifetime["messages"]["per_day"][0] == 1 and lifetime["messages"]["per_day"][-1] == 1
    l4w = views["stats:l4w"]["messages"]
    assert l4w["per_day"][0] == 1 and l4w["per_day"][-1] == 1 and sum(l4w["per_day"]) == 2
    assert l4w["per_hour"][12] == 1 and l4w["per_hour"][23] == 1 and sum(l4w["per_hour"]) == 2
    assert l4w["per_weekday"] == [0, 0, 1, 1, 0, 0, 0]  # Wednesday 05-01, Thursday 04-04
    assert l4w["active_days"] == 2 and l4w["average_per_active_day"] == 1.0
    assert views["overview"]["first_message_at"] == "2023-05-02T23:59:59Z"
    assert views["overview"]["last_message_at"] == "2024-05-01T12:00:00Z"
    assert views["overview"]["active_days"] == 7


def test_entity_lifetime_starts_on_its_own_first_day(tmp_path):
    rows = {
        GENERAL: [("1", END, "")],
        DM: [("2", "2024-04-29 01:00:00", ""), ("3", "2020-01-01 00:00:00", "")],
    }
    _, views = analyze(tmp_path, package("B", messages=rows))
    lifetime = views[f"channel:{GENERAL}"]["periods"]["lifetime"]
    assert (lifetime["start"], lifetime["days"], lifetime["messages"]["per_day"]) == (
        "2024-05-01",
        1,
        [1],
    )
    assert views[f"dm:{FRIEND}"]["periods"]["lifetime"]["start"] == "2020-01-01"
    assert views["stats:lifetime"]["start"] == "2020-01-01"
    assert set(views[f"channel:{GENERAL}"]["periods"]) == {"l4w", "l1m", "ly", "lifetime"}


def test_duplicate_dms_merge_group_dm_deleted_user_and_left_server(tmp_path):
    channels = standard_channels()
    channels[DM2] = {"id": DM2, "type": "DM", "recipients": [FRIEND, OWNER]}
    channels[GONE] = {"id": GONE, "type": 1, "recipients": [OWNER, "Deleted User"]}
    channels[LEFT] = {"id": LEFT, "type": 0}
    channels[GENERAL]["type"] = "GUILD_TEXT"
    rows = {
        DM: [("1", END, "")],
        DM2: [("2", END, ""), ("3", END, "")],
        GONE: [("4", END, "")],
        GROUP: [("5", END, ""), ("6", END, ""), ("7", END, ""), ("8", END, "")],
        LEFT: [("9", END, "")] * 5,
        GENERAL: [("10", END, "")] * 2,
    }
    _, views = analyze(tmp_path, package("C", channels=channels, messages=rows))
    dms = views["top:dms:lifetime"]["entries"]
    assert [(row["user_id"], row["messages"]) for row in dms] == [
        (FRIEND, 3),
        (f"deleted-{GONE}", 1),
    ]
    assert dms[0]["channel_ids"] == sorted([DM, DM2]) and dms[0]["display_name"] == "Bob"
    assert dms[1]["username"] == "Deleted User"
    assert views[f"dm_channel:{DM2}"] == {"user_id": FRIEND}
    assert views[f"dm:{FRIEND}"]["periods"]["l4w"]["messages"]["total"] == 3
    channels_top = views["top:channels:lifetime"]["entries"]
    assert [row["channel_id"] for row in channels_top] == [LEFT, GROUP, GENERAL, DM2, DM, GONE]
    group = channels_top[1]
    assert (group["kind"], group["name"], group["guild_id"]) == ("group_dm", "pals", None)
    assert (
        channels_top[0]["guild_id"] == "unknown"
        and channels_top[0]["guild_name"] == "Unknown server"
    )
    guilds = views["top:guilds:lifetime"]["entries"]
    assert [(row["guild_id"], row["messages"], row["channels"]) for row in guilds] == [
        ("unknown", 5, 1),
        (GUILD, 2, 1),
    ]
    assert views["guild:unknown"]["name"] == "Unknown server"
    overview = views["overview"]
    assert (overview["people_messaged"], overview["servers"], overview["channels"]) == (2, 1, 6)
    assert overview["top"]["channels"] == channels_top[:3]
    assert views["stats:l4w"]["people_active"] == 2 and views["stats:l4w"]["servers_active"] == 1


def test_ranking_ties_by_voice_then_id(tmp_path):
    other = "400000000000000013"
    channels = standard_channels()
    channels[other] = {"id": other, "type": 0, "name": "b", "guild": {"id": GUILD, "name": "Guild"}}
    rows = {GENERAL: [("1", END, "")], other: [("2", END, "")]}
    _, views = analyze(tmp_path, package("C", channels=channels, messages=rows))
    ids = [row["channel_id"] for row in views["top:channels:l4w"]["entries"]]
    assert ids == [GENERAL, other]
    assert views[f"guild:{GUILD}"]["channels"] == [
        {"channel_id": GENERAL, "name": "general", "messages": 1},
        {"channel_id": other, "name": "b", "messages": 1},
    ]


def test_payments_old_and_layout_d(tmp_path):
    payments = [
        {"id": "1", "amount": 999, "currency": "USD", "status": 1},
        {"id": "2", "amount": "999", "currency": "usd", "status": "1"},
        {"id": "3", "amount": 999, "currency": "usd", "status": 2},
        {"id": "4", "amount": 500, "currency": "eur", "status": 1},
        {"id": "5", "amount": 400, "currency": "discord_orb", "status": 1},
    ]
    _, views = analyze(tmp_path, package("C", user=user_json(payments=payments)))
    expected = {
        "count": 3,
        "by_currency": {"eur": 500, "usd": 1998},
        "virtual": {"discord_orb": 400},
    }
    assert views["overview"]["payments"] == expected
    files = package("D", language="fr")
    files["Compte/user_data_exports/discord_billing/payments.json"] = {"records": payments}
    _, views = analyze(tmp_path, files)
    assert views["overview"]["payments"] == expected
    assert views["about"]["read"]["files"]["account"] == 2


def test_user_views_and_relationship_types(tmp_path):
    user = user_json()
    user["relationships"].append(
        {"id": "200000000000000020", "type": "PENDING_INCOMING", "user": {}}
    )
    user["relationships"].append({"id": "200000000000000021", "type": 5})
    _, views = analyze(tmp_path, package("C", user=user))
    assert views[f"user:{OWNER}"] == {
        "id": OWNER,
        "username": "alice",
        "display_name": "Alice",
        "avatar_url": f"https://cdn.discordapp.com/avatars/{OWNER}/a_abc.gif",
        "relationship": "OWNER",
    }
    assert views[f"user:{FRIEND}"]["relationship"] == "FRIEND"
    assert views[f"user:{BLOCKED}"]["relationship"] == "BLOCKED"
    assert views["user:200000000000000020"]["relationship"] == "PENDING_INCOMING"
    assert views["user:200000000000000021"]["relationship"] == "IMPLICIT"
    assert (views["overview"]["friends"], views["overview"]["blocked"]) == (1, 1)


def test_views_are_lazy_and_complete(tmp_path):
    analysis, views = analyze(tmp_path, package("C", messages={GENERAL: [("1", END, "")]}))
    generator = analysis.views()
    assert next(generator)[0] == "about"
    names = set(views)
    for kind in ("dms", "guilds", "channels"):
        for period in ("l4w", "l1m", "ly", "lifetime"):
            assert f"top:{kind}:{period}" in names
            assert f"stats:{period}" in names
    assert {"about", "overview", f"guild:{GUILD}", f"channel:{GROUP}", f"dm:{FRIEND}"} <= names
    assert "processing_seconds" not in views["about"]
