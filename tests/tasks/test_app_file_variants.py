"""The Dumpus app's data file of every package variant and shape, through the worker's code path:
stored encrypted, decrypted and opened exactly as the app does, its schema checked column by
column, and the app's own queries compared with the generator's counts and with our JSON routes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from api import create_app
from launchers.local import process_local_zip, random_discord_link
from parsers.views.app_rows import DAILY_COUNTERS
from samples import generate_package
from settings import Settings
from storage import open_store
from storage.links import parse_package_link
from tests.support import dumpus_app as app
from tests.tasks.test_variants import PACKAGES

PERIODS = ("l4w", "l1m", "ly", "lifetime")
NO_OWNER = {"no-account", "messages-only"}
# Ids and epoch dates the app compares as strings (`===` in JS, text BETWEEN in SQL).
TEXT_COLUMNS = (
    ("activity", "associated_channel_id"),
    ("activity", "associated_guild_id"),
    ("activity", "associated_user_id"),
    ("dm_channels_data", "dm_user_id"),
    ("guilds", "guild_id"),
    ("guild_channels_data", "channel_id"),
    ("sessions", "started_date"),
    ("voice_sessions", "started_date"),
)
DAY = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'"
EPOCH_SECONDS = "'[1-2][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].*'"
# (table, condition no row may meet): the value formats the app's screens rely on.
WRONG_VALUES = (
    *((table, f"typeof({column}) NOT IN ('text', 'null')") for table, column in TEXT_COLUMNS),
    ("activity", "event_name = 'message_sent' AND typeof(hour) != 'integer'"),
    ("activity", "event_name = 'message_sent' AND hour NOT BETWEEN 0 AND 23"),
    ("activity", "typeof(occurence_count) != 'integer' OR occurence_count < 1"),
    ("activity", f"day NOT GLOB {DAY}"),
    ("guilds", "guild_name IS NULL"),
    ("guild_channels_data", "channel_name IS NULL"),
    ("dm_channels_data", "user_name IS NULL OR sentiment_score NOT BETWEEN -1 AND 1"),
    ("sessions", f"started_date NOT GLOB {EPOCH_SECONDS}"),
    ("voice_sessions", f"started_date NOT GLOB {EPOCH_SECONDS}"),
    ("payments", "typeof(payment_amount) != 'integer'"),
)


class IdleQueue:
    """The API's queue, unused here (the package is processed by the worker's code path)."""

    def submit(self, package_id: str) -> None:
        raise AssertionError("nothing is submitted")

    def ping(self) -> bool:
        return True


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Process a variant once per module: (truth, parsed link, store, API client) by name."""
    done: dict[str, tuple] = {}

    def process(name: str) -> tuple:
        if name not in done:
            root = tmp_path_factory.mktemp(f"app-{name}")
            truth = generate_package(root / "package.zip", PACKAGES[name])
            settings = Settings(data_dir=root / "data", secret_key="app-file-variants")
            store = open_store(settings)
            link = random_discord_link()
            summary = process_local_zip(root / "package.zip", link, settings, store)
            assert summary["result"] == "PROCESSED", summary
            config = {"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"}
            app = create_app(config, settings=settings, store=store, queue=IdleQueue())
            done[name] = (truth, parse_package_link(link), store, app.test_client())
        return done[name]

    yield process
    for _truth, _parsed, store, _client in done.values():
        store.close()


@pytest.fixture(params=[name for name in PACKAGES if name not in NO_OWNER], scope="module")
def opened(request, processed):
    """(name, truth, db, JSON getter, package id) of a variant, its file opened as the app does."""
    truth, parsed, store, client = processed(request.param)
    record = store.packages.get(parsed.package_id)
    app_file = store.app_files.get(parsed.package_id, record.generation)
    with store.app_files.open(parsed.package_id, record.generation) as stream:
        ciphertext = stream.read()
    db = app.open_like_the_app(
        app.decrypt_like_the_app(parsed.key_material, app_file.iv, ciphertext)
    )

    def served(path: str) -> dict:
        headers = {"Authorization": f"Bearer {parsed.key_material}"}
        answer = client.get(f"/api/data/{parsed.package_id}{path}", headers=headers)
        assert answer.status_code == 200, (path, answer.get_json())
        return answer.get_json()

    return request.param, truth, db, served, parsed.package_id


@pytest.mark.parametrize("name", sorted(NO_OWNER))
def test_a_package_without_an_owner_has_no_file_and_the_app_is_told(processed, name):
    _truth, parsed, store, client = processed(name)
    record = store.packages.get(parsed.package_id)
    app_file = store.app_files.get(parsed.package_id, record.generation)
    assert (app_file.iv, app_file.error_code) == (None, "MISSING_USER_DATA")
    assert store.app_files.open(parsed.package_id, record.generation) is None
    headers = {"Authorization": f"Bearer {parsed.key_material}"}
    status = client.get(f"/dumpus/process/{parsed.package_id}/status", headers=headers)
    assert status.get_json()["errorMessageCode"] == "MISSING_USER_DATA"
    assert client.get(f"/api/data/{parsed.package_id}/about", headers=headers).status_code == 200


def test_the_schema_is_the_apps_column_by_column(opened):
    _, _, db, _, _ = opened
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(app.SCHEMA)
    for table, expected in app.SCHEMA.items():
        assert app.columns(db, table) == expected, table
    assert not {name for name, _ in app.columns(db, "package_data")} & app.APP_OWN_FIELDS
    assert app.one(db, "PRAGMA freelist_count") == 0  # compact: rows are only ever added


def test_package_data_names_this_package_and_its_owner(opened):
    _, truth, db, served, package_id = opened
    rows = db.execute("SELECT * FROM package_data").fetchall()
    assert len(rows) == 1
    pid, version, owner_id, owner_name, _display, avatar, partial = rows[0]
    assert (pid, version, owner_id, owner_name) == (
        package_id,
        "0.1.0",
        truth.owner_id,
        truth.owner_username,
    )
    assert partial == int(bool(truth.missing_sections)) and isinstance(partial, int)
    assert avatar is None or "?" not in avatar  # the app appends ?size=
    assert served("/about")["owner"]["avatar_url"] == avatar


def test_values_have_the_storage_classes_the_app_compares(opened):
    _, _, db, _, _ = opened
    for table, wrong in WRONG_VALUES:
        assert app.one(db, f"SELECT COUNT(*) FROM {table} WHERE {wrong}") == 0, (table, wrong)


def test_lifetime_figures_equal_what_the_generator_wrote(opened):
    _, truth, db, served, _ = opened
    period = served("/stats/lifetime")
    s, e = period["start"], period["end"]
    assert (app.messages(db, s, e) or 0) == truth.messages
    assert app.messages_per_day(db, s, e) == truth.messages_per_day
    channels = dict(
        db.execute(
            "SELECT associated_channel_id, SUM(occurence_count) FROM activity "
            "WHERE event_name = 'message_sent' GROUP BY 1"
        )
    )
    assert channels == truth.messages_per_channel
    for name in ("app_opened", "guild_joined", *DAILY_COUNTERS):
        assert (app.event_count(db, name, s, e) or 0) == truth.events.get(name, 0), name
    assert (app.money_spent(db) or 0) == sum(truth.payments_by_currency.values()) // 100
    paid = db.execute("SELECT payment_currency, SUM(payment_amount) FROM payments GROUP BY 1")
    assert dict(paid.fetchall()) == truth.payments_by_currency  # real money only, in cents
    assert app.one(db, "SELECT COUNT(*) FROM payments") == served("/overview")["payments"]["count"]
    start, end = _epochs(period)
    assert app.calls(db, start, end) == truth.voice_sessions
    assert round(app.voice_minutes(db, start, end) or 0, 1) == truth.voice_minutes
    assert (
        round(sum(app.session_minutes_by_os(db, start, end).values()), 1) == truth.session_minutes
    )
    assert app.one(db, "SELECT COUNT(*) FROM sessions") == truth.sessions


def test_reactions_and_bots_equal_what_the_generator_wrote(opened):
    _, truth, db, served, _ = opened
    period = served("/stats/lifetime")
    s, e = period["start"], period["end"]
    for channel_id, count in truth.reactions_per_channel.items():
        assert app.reactions_in_channel(db, channel_id, s, e) == count
    by_emoji = dict(
        db.execute(
            "SELECT extra_field_1 || CASE extra_field_2 WHEN '1' THEN ':' "
            "ELSE '' END, SUM(occurence_count) FROM activity WHERE "
            "event_name = 'add_reaction' GROUP BY 1"
        )
    )
    expected: dict[str, int] = {}
    for key, count in truth.reactions_by_emoji.items():
        name, custom, _id = key.partition(":")
        expected[name + custom] = expected.get(name + custom, 0) + count
    assert by_emoji == expected
    bots: dict[str, dict[str, int]] = {}
    for key, count in truth.commands_per_guild_app.items():
        guild_id, application_id = key.split(":")
        if application_id != "-1":  # not an application: the app shows no bot for it
            bots.setdefault(guild_id, {})[application_id] = count
    for guild_id, expected_bots in bots.items():
        assert app.top_bots(db, guild_id, s, e) == expected_bots


@pytest.mark.parametrize("period", PERIODS)
def test_the_apps_figures_equal_our_json_for_each_period(opened, period):
    _, _, db, served, _ = opened
    stats = served(f"/stats/{period}")
    s, e = stats["start"], stats["end"]
    if s is None:
        assert app.one(db, "SELECT COUNT(*) FROM activity") == 0
        return
    assert (app.messages(db, s, e) or 0) == stats["messages"]["total"]
    hours = app.messages_per_hour(db, s, e)
    assert [hours.get(h, 0) for h in range(24)] == stats["messages"]["per_hour"]
    days = app.messages_per_day(db, s, e)
    first = date.fromisoformat(s)
    expected_days = [
        days.get((first + timedelta(days=i)).isoformat(), 0) for i in range(stats["days"])
    ]
    assert expected_days == stats["messages"]["per_day"]
    average = app.average_per_day(db, s, e)
    assert round(average or 0, 2) == stats["messages"]["average_per_active_day"]
    assert (app.app_opens(db, s, e) or 0) == stats["app_opens"]["total"]
    assert app.joined_servers(db, s, e) == stats["servers_joined"]
    for name in DAILY_COUNTERS:
        assert (app.event_count(db, name, s, e) or 0) == stats["events"].get(name, 0), name
    start, end = _epochs(stats)
    assert round(app.voice_minutes(db, start, end) or 0, 1) == stats["voice"]["minutes"]
    by_os = {os: round(m, 1) for os, m in app.session_minutes_by_os(db, start, end).items()}
    assert by_os == {
        os: v["minutes"] for os, v in stats["sessions"]["by_os"].items() if v["minutes"]
    }


@pytest.mark.parametrize("period", PERIODS)
def test_the_apps_top_lists_equal_ours(opened, period):
    _, _, db, served, _ = opened
    stats = served(f"/stats/{period}")
    if stats["start"] is None:
        return
    s, e = stats["start"], stats["end"]

    def ours(kind: str, key: str, keep=lambda entry: True) -> dict[str, int]:
        entries = every_entry(served, f"/top/{kind}/{period}")
        return {x[key]: x["messages"] for x in entries if x["messages"] and keep(x)}

    assert app.top_dms(db, s, e) == ours("dms", "user_id")
    assert app.top_guilds(db, s, e) == ours("guilds", "guild_id")
    assert app.top_channels(db, s, e) == ours(
        "channels", "channel_id", lambda x: x["kind"] == "guild"
    )


def test_each_dm_server_and_channel_page_equals_ours(opened):
    _, _, db, served, _ = opened
    for entry in served("/top/dms/lifetime?limit=100")["entries"]:
        person = served(f"/dm/{entry['channel_ids'][0]}/stats/ly")  # deleted users too
        assert (app.dm_messages(db, entry["user_id"], person["start"], person["end"]) or 0) == (
            person["messages"]["total"]
        )
    for entry in served("/top/guilds/lifetime?limit=100")["entries"]:
        guild = served(f"/guild/{entry['guild_id']}/stats/l1m")
        where = f"AND a.associated_guild_id = '{entry['guild_id']}'"
        assert (app.messages(db, guild["start"], guild["end"], where) or 0) == (
            guild["messages"]["total"]
        )
        channels = app.top_channels(db, guild["start"], guild["end"], entry["guild_id"])
        assert sum(channels.values()) == guild["messages"]["total"]
    for entry in served("/top/channels/lifetime?limit=100")["entries"]:
        channel = served(f"/channel/{entry['channel_id']}/stats/lifetime")
        where = f"AND a.associated_channel_id = '{entry['channel_id']}'"
        assert (app.messages(db, channel["start"], channel["end"], where) or 0) == (
            channel["messages"]["total"]
        )


def every_entry(served, route: str) -> list[dict]:
    """Every entry of a top list, page by page (100 per page)."""
    entries: list[dict] = []
    while True:
        page = served(f"{route}?limit=100&offset={len(entries)}")
        entries += page["entries"]
        if not page["entries"] or len(entries) >= page["total"]:
            assert len(entries) == page["total"]
            return entries


def _epochs(period: dict) -> tuple[int, int]:
    """Our period as the app's session bounds: midnight of its first day, midnight after its
    last (the app's own bound stops at midnight before its last day; ours includes that day)."""
    start = date.fromisoformat(period["start"]) - date(1970, 1, 1)
    end = date.fromisoformat(period["end"]) - date(1970, 1, 1)
    return start.days * 86400, (end.days + 1) * 86400
