"""The app's data file built from tiny hand-made packages: every row the app's screens read, in
the value formats the app compares (hand-computed figures, no generator)."""

import sqlite3
import threading

import pytest

from parsers.limits import ParseLimits
from parsers.package import analyze_package
from parsers.views import app_database
from parsers.views.app_database import AppDatabaseWriter, MissingOwner
from tests.parsers.zipbuild import (
    BLOCKED,
    DM,
    FRIEND,
    GENERAL,
    GROUP,
    GUILD,
    OWNER,
    event,
    package,
    user_json,
    write_zip,
)

VOICE = "500000000000000008"
BOT = "800000000000000010"
MESSAGES = {
    GENERAL: [("1", "2024-05-01 10:15:00", "hi"), ("2", "2024-05-01T10:59:59+00:00", "yo")],
    DM: [("3", "2024-05-01 23:00:00", "a"), ("4", "2024-04-30 01:00:00", "b")],
    GROUP: [("5", "2024-05-01 12:00:00", "c")],
}
EVENTS = [
    event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="👍", channel_id=GENERAL),
    event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="👍", channel_id=GENERAL),
    event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="kek", emoji_id="9", channel_id=DM),
    event("add_reaction", "2024-05-01T11:00:00Z", emoji_name="👍"),
    event("application_command_used", "2024-05-01T12:00:00Z", application_id=BOT, guild_id=GUILD),
    event("application_command_used", "2024-05-01T12:00:00Z", application_id="-1", guild_id=GUILD),
    event("slash_command_used", "2024-05-01T12:00:00Z", application_id=BOT, guild_id=GUILD),
    event("guild_joined", "2024-04-02T12:00:00Z", guild_id=GUILD),
    event("app_opened", "2024-05-01T09:00:00Z", os="Linux"),
    event("app_opened", "2024-05-01T09:30:00Z", os="Linux"),
    event("email_opened", "2024-04-29T09:30:00Z"),
    event("message_edited", "2024-05-01T09:30:00Z"),
    event("send_message", "2024-05-01T09:30:00Z"),  # not a row: messages come from the files
    event("join_voice_channel", "2024-05-01T08:00:00.500Z", channel_id=VOICE, guild_id=GUILD),
    event("leave_voice_channel", "2024-05-01T08:45:30.500Z", channel_id=VOICE, guild_id=GUILD),
    event("join_voice_channel", "2024-05-01T20:00:00Z", channel_id=DM),
    event("leave_voice_channel", "2024-05-01T20:10:00Z", channel_id=DM),
    event("session_start", "2024-05-01T07:00:00Z", os="Windows"),
    event("session_end", "2024-05-01T07:30:00Z", os="Windows"),
]  # fmt: skip
PAID = "2024-02-03T10:00:00Z"
PAYMENTS = [
    {"id": "p1", "amount": 999, "currency": "USD", "status": 1, "created_at": PAID},
    {"id": "p2", "amount": 499, "currency": "eur", "status": 2, "created_at": PAID},
    {"id": "p3", "amount": 1400, "currency": "discord_orb", "status": 1},
]


def build(tmp_path, limits=None, side=False, **options) -> sqlite3.Connection:
    """The app's file of the test package, opened; `limits` as `analyze_package` takes them;
    with `side`, its message rows written by a thread of their own (as when the activity is
    read by another process) and its voice stays and sessions by another (`SideTables`)."""
    limits = {} if limits is None else {"limits": limits}
    files = package("C", messages=MESSAGES, events={"analytics": EVENTS}, **options)
    path = write_zip(tmp_path / "p.zip", files)
    writer = AppDatabaseWriter(tmp_path / "app.sqlite", tmp_path / "side.sqlite" if side else None)
    analysis = analyze_package(path, package_id="f" * 32, app_database=writer, **limits)
    if side:
        writer.add_messages(analysis._data, background=True)
    analysis.write_app_database(writer)
    db = sqlite3.connect(":memory:")
    db.deserialize((tmp_path / "app.sqlite").read_bytes())
    return db


@pytest.fixture(params=[False, True], ids=["one-thread", "three-threads"])
def db(tmp_path, request):
    return build(tmp_path, side=request.param, user=user_json(payments=PAYMENTS))


def rows(db, sql: str) -> list[tuple]:
    return sorted(db.execute(sql).fetchall(), key=repr)


def test_messages_per_channel_and_utc_hour_with_their_server(db):
    sql = (
        "SELECT associated_channel_id, associated_guild_id, day, hour, occurence_count, "
        "typeof(hour) FROM activity WHERE event_name = 'message_sent'"
    )
    assert rows(db, sql) == [
        (GENERAL, GUILD, "2024-05-01", 10, 2, "integer"),
        (DM, None, "2024-04-30", 1, 1, "integer"),
        (DM, None, "2024-05-01", 23, 1, "integer"),
        (GROUP, None, "2024-05-01", 12, 1, "integer"),  # counted, named nowhere (as in the app)
    ]


def test_reactions_per_channel_and_emoji_with_the_custom_flag(db):
    sql = (
        "SELECT associated_channel_id, extra_field_1, extra_field_2, occurence_count, hour "
        "FROM activity WHERE event_name = 'add_reaction'"
    )
    expected = [(GENERAL, "👍", "0", 2, 0), (DM, "kek", "1", 1, 0), (None, "👍", "0", 1, 0)]
    assert rows(db, sql) == sorted(expected, key=repr)


def test_commands_per_server_and_bot_and_the_other_events(db):
    commands = rows(
        db,
        "SELECT associated_guild_id, associated_user_id, occurence_count FROM activity "
        "WHERE event_name = 'application_command_used'",
    )
    assert commands == [(GUILD, BOT, 1)]  # `-1` is no bot; slash_command_used is another event
    others = rows(
        db,
        "SELECT event_name, day, associated_guild_id, extra_field_1, occurence_count "
        "FROM activity WHERE event_name NOT IN "
        "('message_sent', 'add_reaction', 'application_command_used')",
    )
    assert others == [
        ("app_opened", "2024-05-01", None, "Linux", 2),
        ("email_opened", "2024-04-29", None, None, 1),
        ("guild_joined", "2024-04-02", GUILD, None, 1),
        ("message_edited", "2024-05-01", None, None, 1),
    ]


def test_voice_sessions_and_sessions_with_epoch_second_dates(db):
    voice = db.execute(
        "SELECT channel_id, guild_id, duration_mins, started_date, ended_date, "
        "typeof(started_date), typeof(duration_mins) FROM voice_sessions ORDER BY started_date"
    ).fetchall()
    assert voice == [
        (VOICE, GUILD, 45.5, "1714550400.5", "1714553130.5", "text", "real"),
        (DM, None, 10, "1714593600.0", "1714594200.0", "text", "integer"),  # whole minutes
    ]
    assert rows(db, "SELECT * FROM sessions") == [("1714546800.0", "1714548600.0", 30, "Windows")]
    # the app's filter: epoch seconds in quotes against the text column
    in_day = "started_date BETWEEN '1714521600' AND '1714593599'"
    assert rows(db, f"SELECT COUNT(*) FROM voice_sessions WHERE {in_day}") == [(1,)]


def test_people_channels_servers_and_the_owner(db):
    assert rows(db, "SELECT * FROM dm_channels_data") == [
        (DM, FRIEND, "bob", "Bob", None, 2, 10, 0.0)  # true DM voice; no made-up sentiment
    ]
    assert rows(db, "SELECT * FROM guild_channels_data") == [
        (GENERAL, "general", GUILD, 2, 0),
        (VOICE, VOICE, GUILD, 0, 46),  # a voice channel named nowhere: its id
    ]
    assert rows(db, "SELECT * FROM guilds") == [(GUILD, "Guild", 2)]
    owner = rows(db, "SELECT * FROM package_data")
    avatar = f"https://cdn.discordapp.com/avatars/{OWNER}/a_abc.gif"
    assert owner == [("f" * 32, "0.1.0", OWNER, "alice", "Alice", avatar, 0)]
    assert BLOCKED not in str(rows(db, "SELECT * FROM dm_channels_data"))


def test_payments_in_real_money_only(db):
    assert rows(db, "SELECT * FROM payments") == [("p1", "2024-02-03", 999, "usd", "")]


def test_a_partial_package_says_so(tmp_path):
    db = build(tmp_path, sections=("account", "messages", "activity"))
    assert rows(db, "SELECT package_is_partial, typeof(package_is_partial) FROM package_data") == [
        (1, "integer")
    ]


@pytest.mark.parametrize("user", [None, {"username": "no id"}])
def test_no_owner_no_file(tmp_path, user):
    sections = ("messages", "activity") if user is None else ("account", "messages", "activity")
    files = package(
        "C", messages=MESSAGES, events={"analytics": EVENTS}, user=user, sections=sections
    )
    analysis = analyze_package(write_zip(tmp_path / "p.zip", files), package_id="f" * 32)
    with pytest.raises(MissingOwner):
        analysis.write_app_database(AppDatabaseWriter(tmp_path / "app.sqlite"))
    assert not (tmp_path / "app.sqlite").exists()
    assert dict(analysis.views())["overview"]["messages"] == 5  # our statistics still are


def test_the_file_is_compact_and_the_same_for_the_same_package(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert first.serialize() == second.serialize()
    assert first.execute("PRAGMA freelist_count").fetchone() == (0,)
    vacuumed = sqlite3.connect(":memory:")
    first.backup(vacuumed)
    vacuumed.execute("VACUUM")
    pages = [one.execute("PRAGMA page_count").fetchone()[0] for one in (first, vacuumed)]
    assert pages[0] <= pages[1] + 2  # as small as a VACUUMed copy, near enough


def test_the_same_file_whether_messages_come_first_or_not(tmp_path):
    """Written while a child process reads the activity, or all at the end: the same bytes."""
    (tmp_path / "child").mkdir()
    (tmp_path / "alone").mkdir()
    child = build(tmp_path / "child", ParseLimits(activity_process_min_bytes=0))
    alone = build(tmp_path / "alone")
    assert child.serialize() == alone.serialize()


@pytest.mark.parametrize("materialized", [True, False])
def test_message_rows_the_same_with_or_without_a_materialized_table(monkeypatch, materialized):
    """SQLite from 3.35 takes each channel out of the JSON once; older ones per row."""
    monkeypatch.setattr(app_database, "MESSAGES", app_database.messages_statement(materialized))
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(app_database.SCHEMA)
    hours = {
        GENERAL: {475_000: 2, 475_001: 0, -30: 1},  # a zero count makes no row; before 1970 does
        DM: {475_023: 5},
        'odd "id"': {24: 1},
    }
    app_database.insert_messages(db, hours, {GENERAL: GUILD, 'odd "id"': GUILD})
    assert db.execute(
        "SELECT day, hour, occurence_count, associated_channel_id, associated_guild_id "
        "FROM activity ORDER BY rowid"
    ).fetchall() == [
        ("2024-03-09", 16, 2, GENERAL, GUILD),
        ("1969-12-30", 18, 1, GENERAL, GUILD),
        ("1970-01-02", 0, 1, 'odd "id"', GUILD),
        ("2024-03-10", 15, 5, DM, None),
    ]


def test_the_threads_give_the_same_file_as_one_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(app_database, "SIDE_BATCH_ROWS", 1)  # a statement per row
    monkeypatch.setattr(app_database, "BATCH_ROWS", 1)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    alone = build(tmp_path / "one", user=user_json(payments=PAYMENTS))
    side = build(tmp_path / "two", side=True, user=user_json(payments=PAYMENTS))
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    assert rows(side, schema) == rows(alone, schema)
    for (table,) in rows(alone, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        assert rows(side, f"SELECT rowid, * FROM {table}") == rows(
            alone, f"SELECT rowid, * FROM {table}"
        ), table
    assert rows(side, "SELECT count(*) FROM voice_sessions") == [(2,)]
    assert rows(side, "PRAGMA integrity_check") == [("ok",)]


def test_a_failure_of_the_side_thread_is_raised_by_finish(tmp_path):
    files = package("C", messages=MESSAGES, events={"analytics": EVENTS}, user=user_json())
    path = write_zip(tmp_path / "p.zip", files)
    writer = AppDatabaseWriter(tmp_path / "app.sqlite", tmp_path / "no-such-folder" / "side")
    analysis = analyze_package(path, package_id="f" * 32, app_database=writer)
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        analysis.write_app_database(writer)
    assert writer._db is None, "the app's file is closed all the same"


def test_a_failed_copy_of_the_side_tables_is_raised_by_finish(tmp_path, monkeypatch):
    monkeypatch.setattr(app_database.SideTables, "TABLES", ("voice_sessions", "no_such_table"))
    files = package("C", messages=MESSAGES, events={"analytics": EVENTS}, user=user_json())
    path = write_zip(tmp_path / "p.zip", files)
    writer = AppDatabaseWriter(tmp_path / "app.sqlite", tmp_path / "side.sqlite")
    analysis = analyze_package(path, package_id="f" * 32, app_database=writer)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        analysis.write_app_database(writer)
    assert writer._db is None, "the app's file is closed all the same"


def written_in_the_background(tmp_path, insert_messages, monkeypatch):
    """(writer, analysis) of the test package, its message rows written by a thread with
    insert_messages."""
    monkeypatch.setattr(app_database, "insert_messages", insert_messages)
    files = package("C", messages=MESSAGES, events={"analytics": EVENTS}, user=user_json())
    path = write_zip(tmp_path / "p.zip", files)
    writer = AppDatabaseWriter(tmp_path / "app.sqlite", tmp_path / "side.sqlite")
    analysis = analyze_package(path, package_id="f" * 32, app_database=writer)
    writer.add_messages(analysis._data, background=True)
    return writer, analysis


def test_a_failure_of_the_message_thread_is_raised_by_finish(tmp_path, monkeypatch):
    def failing(*_args):
        raise sqlite3.OperationalError("disk I/O error")

    writer, analysis = written_in_the_background(tmp_path, failing, monkeypatch)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        analysis.write_app_database(writer)
    assert writer._db is None, "the app's file is closed all the same"


def test_closing_the_writer_waits_for_the_message_thread(tmp_path, monkeypatch):
    release, written, insert_messages = threading.Event(), [], app_database.insert_messages

    def slow(db, hours, guild_of):
        release.wait(timeout=30)
        insert_messages(db, hours, guild_of)
        written.append(len(hours))

    writer, _analysis = written_in_the_background(tmp_path, slow, monkeypatch)
    threading.Timer(0.05, release.set).start()
    writer.close()  # on a failure of the run: no rows must be written into a closed file
    assert written == [3] and writer._db is None
