"""Activity shards: exact event types, quoted timestamps, sources, voice and session pairing."""

import json

from tests.parsers.zipbuild import DM, FRIEND, GENERAL, GUILD, analyze, event, package

VOICE = "500000000000000008"


def lines_of(*events) -> list:
    return list(events)


def run(tmp_path, events, **kwargs):
    return analyze(tmp_path, package("C", events=events, **kwargs))[1]


def test_exact_types_quoted_timestamps_null_and_numeric_strings(tmp_path):
    raw_first = (
        '{"event_type":"send_message","timestamp":"\\"2024-05-01T10:00:00.412Z\\"",'
        '"client_track_timestamp":"null","channel_id":"1"}'
    )
    lines = [
        raw_first,
        event("send_message_failure", "2024-05-01T10:00:00Z"),
        event("send_messages", "2024-05-01T10:00:00Z"),
        {"timestamp": "2024-05-01T10:00:00Z", "channel_id": "1", "event_type": "send_message"},
        event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="👍", emoji_id="null"),
        event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="pepe", emoji_id="123"),
        event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="👍"),
        {"predicted_gender": "x", "probability": "0.5"},
        '{"event_type": "send_message", broken',
        event("send_message", "not a time"),
        "",
    ]
    views = run(tmp_path, {"analytics": lines})
    stats = views["stats:l4w"]
    assert stats["events"] == {"add_reaction": 3, "send_message": 2}
    assert stats["reactions"] == {
        "total": 3,
        "top_emojis": [
            {"name": "👍", "id": None, "custom": False, "count": 2},
            {"name": "pepe", "id": "123", "custom": True, "count": 1},
        ],
    }
    skipped = views["about"]["read"]["skipped"]["by_reason"]
    assert skipped == {"no_event_type": 1, "invalid_json": 1, "invalid_timestamp": 1}
    assert views["about"]["read"]["lines"]["activity"] == len(lines)
    assert views["about"]["package_date"] == "2024-05-01T11:00:00Z"


def test_all_shards_read_and_analytics_chosen_first(tmp_path):
    files = package(
        "C", events={"analytics": [event("app_opened", "2024-05-01T10:00:00Z", os="Linux")]}
    )
    files["activity/analytics/events-2024-00001-of-00002.json"] = (
        json.dumps(event("app_opened", "2024-05-01T11:00:00Z", os="Linux")) + "\n"
    )
    files["activity/reporting/events-2024-00000-of-00001.json"] = "\n".join(
        json.dumps(line)
        for line in [
            event("app_opened", "2024-05-01T10:00:00Z", os="Linux"),
            event("send_message", "2024-05-01T10:00:00Z"),
        ]
    )
    files["activity/tns/events-2024-00000-of-00001.json"] = json.dumps(
        event("send_message", "2024-05-01T10:00:00Z")
    )
    _, views = analyze(tmp_path, files)
    assert views["about"]["activity_sources"] == {
        "app_opened": "analytics",
        "send_message": "reporting",
    }
    assert views["about"]["read"]["files"]["activity"] == 4
    assert views["stats:lifetime"]["app_opens"] == {"total": 2, "by_os": {"Linux": 2}}
    assert views["stats:lifetime"]["events"] == {"app_opened": 2, "send_message": 1}


def test_empty_analytics_falls_back_to_modeling(tmp_path):
    events = {
        "analytics": [{"predicted_age": "25"}],
        "modeling": [event("message_edited", "2024-05-01T10:00:00Z")],
    }
    views = run(tmp_path, events)
    assert views["about"]["activity_sources"] == {"message_edited": "modeling"}
    assert views["about"]["read"]["skipped"]["by_reason"] == {"no_event_type": 1}


def test_voice_pairing_capped_attributed_and_per_join_day(tmp_path):
    lines = [
        # 90 minutes in a guild voice channel, crossing midnight: counted on the join day.
        event("join_voice_channel", "2024-04-30T23:00:00Z", channel_id=VOICE, guild_id=GUILD),
        event("leave_voice_channel", "2024-05-01T00:30:00Z", channel_id=VOICE, guild_id=GUILD),
        # a 30 h stay is capped at 24 h; the leave carries a numeric-string client timestamp
        event("join_voice_channel", "2024-04-20T00:00:00Z", channel_id=GENERAL, guild_id=GUILD),
        event(
            "leave_voice_channel", "2024-04-21T06:00:00Z", channel_id=GENERAL, guild_id=GUILD,
            client_track_timestamp="1713679200000",
        ),
        # a DM call: no guild_id, the channel is the DM; then a join without a leave
        event("join_voice_channel", "2024-05-01T08:00:00Z", channel_id=DM),
        event("leave_voice_channel", "2024-05-01T08:10:30Z", channel_id=DM, guild_id="null"),
        event("join_voice_channel", "2024-05-01T09:00:00Z", channel_id=DM),
    ]  # fmt: skip
    views = run(tmp_path, {"reporting": lines})
    sources = {"join_voice_channel": "reporting", "leave_voice_channel": "reporting"}
    assert views["about"]["activity_sources"] == sources
    assert views["overview"]["voice_minutes"] == round(90 + 24 * 60 + 10.5, 1)
    l4w = views["stats:l4w"]["voice"]["per_day"]
    assert len(l4w) == 28
    assert l4w[-1] == 10.5 and l4w[-2] == 90.0 and l4w[-12] == 1440.0
    channels = {row["channel_id"]: row for row in views["top:channels:lifetime"]["entries"]}
    assert channels[VOICE]["voice_minutes"] == 90.0 and channels[VOICE]["guild_id"] == GUILD
    assert views["top:guilds:lifetime"]["entries"][0]["voice_minutes"] == 1530.0
    assert views[f"dm:{FRIEND}"]["periods"]["l4w"]["voice"]["minutes"] == 10.5
    assert views["top:dms:lifetime"]["entries"][0]["user_id"] == FRIEND


def test_sessions_per_os_and_app_opens(tmp_path):
    lines = [
        event("session_start", "2024-05-01T10:00:00Z", os="Windows"),
        event("session_start", "2024-05-01T10:05:00Z", os="Android"),
        event("session_end", "2024-05-01T10:45:00Z", os="Windows"),
        event("session_end", "2024-05-01T10:20:00Z", os="Android"),
        event("session_start", "2024-05-01T11:00:00Z", os="Windows"),
        event("app_opened", "2024-05-01T10:00:00Z", os="Android"),
        event("app_opened", "2024-05-01T10:00:00Z"),
        event("guild_joined", "2024-05-01T10:00:00Z", guild_id=GUILD),
        event("guild_joined", "2024-05-01T10:01:00Z", guild_id=GUILD),
        event("guild_joined", "2024-03-01T10:01:00Z", guild_id="600000000000000009"),
    ]
    views = run(tmp_path, {"analytics": lines})
    overview = views["overview"]
    assert overview["sessions"] == {
        "count": 3,
        "minutes": 60.0,
        "by_os": {
            "Android": {"count": 1, "minutes": 15.0},
            "Windows": {"count": 2, "minutes": 45.0},
        },
    }
    assert overview["app_opens"] == {"total": 2, "by_os": {"Android": 1, "unknown": 1}}
    assert overview["servers_joined"] == 2
    assert views["stats:l4w"]["servers_joined"] == 1


def test_sessions_are_paired_by_the_client_clock(tmp_path):
    # The server stamps each event a little later than the client saw it: an end can then sort
    # after the next start. client_track_timestamp (the client's clock) keeps them in order.
    def at(kind, server, client):
        cts = f'"{client}"' if client else "null"
        return event(kind, server, os="Windows", client_track_timestamp=cts)

    lines = [
        at("session_start", "2024-05-01T10:00:00.400Z", "2024-05-01T10:00:00.000Z"),
        at("session_end", "2024-05-01T10:20:00.600Z", "2024-05-01T10:20:00.000Z"),
        at("session_start", "2024-05-01T10:20:00.300Z", "2024-05-01T10:20:00.100Z"),
        at("session_end", "2024-05-01T10:30:00.300Z", "2024-05-01T10:30:00.100Z"),
        at("session_start", "2024-05-01T11:00:00.000Z", None),  # no client clock: the server's
        at("session_end", "2024-05-01T11:05:00.000Z", None),
    ]
    sessions = run(tmp_path, {"analytics": lines})["overview"]["sessions"]
    assert sessions["count"] == 3 and sessions["minutes"] == 35.0
