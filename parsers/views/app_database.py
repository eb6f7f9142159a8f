"""The Dumpus app's data file: the parse result as the SQLite database the app opens.

Tables, column names (misspellings included) and declared types are the app's contract; values
come from the same aggregates as the statistics views, so every figure the app computes from the
file equals the one our views give for the same period. Pure: the analysis in, SQLite files out
(at paths the caller gives).
"""

import sqlite3
import threading
from collections.abc import Callable, Iterable
from itertools import chain, islice

import orjson

from parsers.aggregate.entities import Entities, resolve_message_channels
from parsers.aggregate.package_data import PackageData
from parsers.views.app_rows import (
    DayNames,
    activity_rows,
    channel_rows,
    dm_rows,
    guild_rows,
    package_row,
    payment_rows,
    session_rows,
    voice_rows,
)

SCHEMA = """
CREATE TABLE activity (event_name TEXT NOT NULL, day TEXT NOT NULL, hour INTEGER,
    occurence_count INTEGER NOT NULL, associated_user_id TEXT, associated_channel_id TEXT,
    associated_guild_id TEXT, extra_field_1 TEXT, extra_field_2 TEXT);
CREATE TABLE dm_channels_data (channel_id TEXT NOT NULL, dm_user_id TEXT NOT NULL,
    user_name TEXT NOT NULL, display_name TEXT, user_avatar_url TEXT,
    total_message_count INTEGER NOT NULL, total_voice_channel_duration INTEGER NOT NULL,
    sentiment_score REAL NOT NULL, PRIMARY KEY (channel_id));
CREATE TABLE guild_channels_data (channel_id TEXT NOT NULL, channel_name TEXT NOT NULL,
    guild_id TEXT NOT NULL, total_message_count INTEGER NOT NULL,
    total_voice_channel_duration INTEGER NOT NULL, PRIMARY KEY (channel_id));
CREATE TABLE guilds (guild_id TEXT NOT NULL, guild_name TEXT NOT NULL,
    total_message_count INTEGER NOT NULL, PRIMARY KEY (guild_id));
CREATE TABLE payments (payment_id TEXT NOT NULL, payment_date TEXT NOT NULL,
    payment_amount INTEGER NOT NULL, payment_currency TEXT NOT NULL,
    payment_description TEXT NOT NULL, PRIMARY KEY (payment_id));
CREATE TABLE voice_sessions (channel_id TEXT NOT NULL, guild_id TEXT,
    duration_mins INTEGER NOT NULL, started_date TEXT NOT NULL, ended_date TEXT NOT NULL,
    PRIMARY KEY (channel_id, started_date));
CREATE TABLE sessions (started_date TEXT NOT NULL, ended_date TEXT NOT NULL,
    duration_mins INTEGER NOT NULL, device_os TEXT NOT NULL);
CREATE TABLE package_data (package_id TEXT NOT NULL, package_version TEXT NOT NULL,
    package_owner_id TEXT NOT NULL, package_owner_name TEXT NOT NULL,
    package_owner_display_name TEXT, package_owner_avatar_url TEXT,
    package_is_partial BOOLEAN NOT NULL DEFAULT 0);
"""
# Made after the inserts. `activity` has neither the app's server's primary key (its nullable
# columns never made it unique) nor its two indexes: they tripled the file, which the app keeps
# whole in the browser's local storage, and a scan takes milliseconds at the sizes that fit there.
# The stays' indexes are built in the side file, when there is one, and copied with its tables.
STAY_INDEXES = """
CREATE INDEX idx_sessions_started_date ON sessions(started_date);
CREATE INDEX idx_voice_sessions_started_date ON voice_sessions(started_date);
"""
ENTITY_INDEXES = """
CREATE INDEX idx_dm_channels_dm_user_id ON dm_channels_data(dm_user_id);
CREATE INDEX idx_guild_channels_guild_id ON guild_channels_data(guild_id);
"""
INDEXES = STAY_INDEXES + ENTITY_INDEXES
# No journal (the file is thrown away on any failure), a bounded page cache, and SQLite's
# temporary tables and sorts in memory, never in a file outside the caller's folder. Rows are only
# ever added, so the finished file has no free page: it is handed on as it is (a VACUUM INTO of
# it was 0.2% smaller and cost 0.04 s of a medium package's last, single-core phase).
PRAGMAS = ("journal_mode = OFF", "synchronous = OFF", "temp_store = MEMORY", "cache_size = -2048")
BATCH_ROWS = 20_000
# The side thread's batches (`SideTables`) are smaller: they are held beside the app file's
# thread's own. heavy's peak (the process tree) by this size: 20,000 rows 181-184 MB, 10,000
# 177 MB, 5,000 173-174 MB, 2,000 171-172 MB, against 168-170 MB without the side thread;
# below 5,000, the statements' GIL hand-overs (each one waits up to 5 ms for it) began to
# show in the file's time.
SIDE_BATCH_ROWS = 5_000
# `message_sent` rows are made by SQLite from the message hours as JSON, per server (`""` for
# none), per channel, per hour since the epoch: one statement per batch of thousands of rows, the
# GIL released while it runs.
_CHANNELS = """
SELECT nullif(server.key, ''), channel.key, channel.value
FROM json_each(?) AS server, json_each(server.value) AS channel
"""
_HOURS = """
INSERT INTO activity
SELECT 'message_sent', date(hour.key * 3600, 'unixepoch'), (hour.key % 24 + 24) % 24, hour.value,
       NULL, channel.id, channel.guild, NULL, NULL
FROM channel, json_each(channel.hours) AS hour
WHERE hour.value > 0
"""


def messages_statement(materialized: bool) -> str:
    """The `message_sent` INSERT. Materialized (SQLite 3.35 and later), each channel's id and
    server are taken out of the JSON once, not once per row: a quarter less time (0.25 -> 0.19 s
    for 129,000 rows). The same rows in the same order either way."""
    how = "MATERIALIZED " if materialized else ""
    return f"WITH channel(guild, id, hours) AS {how}({_CHANNELS}){_HOURS}"


MESSAGES = messages_statement(sqlite3.sqlite_version_info >= (3, 35, 0))


class MissingOwner(Exception):
    """The package names no owner (no user.json, or one without an id): the app needs one."""

    code = "MISSING_USER_DATA"


class AppDatabaseWriter:
    """Writes the app's SQLite file to `path`, in two steps.

    `add_messages` writes the `message_sent` rows as soon as the messages are read
    (`analyze_package` has a thread of its own write them, beside the wait for the process that
    reads the activity and what the run does once it is in), `finish` the
    rest once the package is resolved. The file is built on disk, so memory stays bounded by
    SQLite's page cache whatever the package's size. `path` must be absent or an empty file;
    the caller owns (and removes) it. So with `side_path`, where `finish` has a second thread
    write the voice stays and sessions (`SideTables`) while it writes the rest.
    """

    def __init__(self, path, side_path=None) -> None:
        self.path = path
        self.side_path = side_path
        self._db: sqlite3.Connection | None = None
        self._messages: Background | None = None  # the thread writing the message rows

    def add_messages(self, data: PackageData, background: bool = False) -> None:
        """Open the file and write the message rows (nothing without an owner); `background`:
        by a thread of its own while the caller goes on (`finish` and `close` wait for it)."""
        if data.account.owner is None or self._db is not None:
            return
        resolve_message_channels(data)  # as the entities will: the same servers
        guild_of = {}
        for channel_id in data.message_hours:
            meta = data.channels[channel_id]
            if meta.kind == "guild" and meta.guild_id is not None:
                guild_of[channel_id] = meta.guild_id
        # finish() may run in another thread, after this one is done with the connection
        self._db = _new_file(self.path, check_same_thread=False)
        if background:  # a copy of the dict: the caller's thread goes on with the package
            hours = dict(data.message_hours)
            self._messages = Background(insert_messages, self._db, hours, guild_of)
        else:
            insert_messages(self._db, data.message_hours, guild_of)

    def finish(self, data: PackageData, entities: Callable[[], Entities]) -> None:
        """Write everything else and close the file; MissingOwner without an owner.

        `entities` is called once the tables that need none are written: the views' thread
        resolves them meanwhile (`PackageAnalysis`), while SQLite writes these rows without
        the GIL."""
        owner = data.account.owner
        if owner is None:
            raise MissingOwner("the package names no owner")
        self.add_messages(data)
        db = self._db
        assert db is not None  # add_messages opened it: the package has an owner
        side = None if self.side_path is None else SideTables(self.side_path, data)
        try:
            if self._messages is not None:
                self._messages.join()
            for shape, rows in activity_rows(data, DayNames()):
                insert(db, "activity", rows, shape)
            insert(db, "payments", payment_rows(data))
            if side is None:
                insert_stays(db, data)
            insert(db, "package_data", [package_row(data, owner)])
            resolved = entities()
            insert(db, "dm_channels_data", dm_rows(resolved))
            insert(db, "guild_channels_data", channel_rows(resolved))
            insert(db, "guilds", guild_rows(resolved))
            db.execute("COMMIT")
            if side is not None:
                side.copy_into(db)
            db.executescript(INDEXES if side is None else ENTITY_INDEXES)
        finally:
            if side is not None:
                side.join()
            self.close()

    def close(self) -> None:
        """Release the file (nothing to do when it was never opened)."""
        if self._messages is not None:
            self._messages.wait()  # its failure, if any, is finish's to raise
            self._messages = None
        if self._db is not None:
            self._db.close()
            self._db = None


def _new_file(path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection to a new file of the app's tables (`path` absent or empty), its pragmas set
    and a transaction begun."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    try:
        for pragma in PRAGMAS:
            db.execute(f"PRAGMA {pragma}")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
    except BaseException:
        db.close()
        raise
    return db


def insert_stays(db: sqlite3.Connection, data: PackageData, batch_rows: int = BATCH_ROWS) -> None:
    """The `voice_sessions` and `sessions` rows."""
    insert(db, "voice_sessions", voice_rows(data), batch_rows=batch_rows)
    insert(db, "sessions", session_rows(data), batch_rows=batch_rows)


class Background:
    """A function run by a thread of its own while the caller goes on."""

    def __init__(self, function: Callable[..., object], *args: object) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., object], *args: object) -> None:
        try:
            function(*args)
        except BaseException as error:  # raised in the caller's thread by join
            self._error = error

    def wait(self) -> None:
        """Wait for the function to end."""
        self._thread.join()

    def join(self) -> None:
        """Wait for the function to end; raise its failure here."""
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


class SideTables:
    """`insert_stays` into a file of their own at `path` (absent or empty; the caller's), by a
    thread of its own, while the caller's thread writes the other tables; `copy_into` then
    moves the finished tables into the app's file.

    Voice-heavy's 16,000 stays cost that thread's SQLite more than every other table but the
    messages: made apart, they no longer add to it. Their copy, a plain `INSERT ... SELECT *`
    into tables declared alike and still empty, is SQLite's transfer of whole records (no row
    decoded, the primary key's index filled in order): 17 ms against 90 to insert them. Their
    `started_date` indexes are built in the side file too, and made on the app file's empty
    tables before the copy, which then brings their entries as well (200,000 rows: 0.30 s,
    against 0.21 s to copy and 0.14 s to index after).
    """

    TABLES = ("voice_sessions", "sessions")

    def __init__(self, path, data: PackageData) -> None:
        self.path = path
        self._writing = Background(self._write, data)

    def _write(self, data: PackageData) -> None:
        db = _new_file(self.path)
        try:
            insert_stays(db, data, SIDE_BATCH_ROWS)
            db.execute("COMMIT")
            db.executescript(STAY_INDEXES)
        finally:
            db.close()

    def join(self) -> None:
        """Wait for the thread; raise its failure here."""
        self._writing.join()

    def copy_into(self, db: sqlite3.Connection) -> None:
        """Wait for the tables, then copy them into `db` (no transaction open; on a failure
        the caller closes `db`, which lets the side file go)."""
        self.join()
        db.executescript(STAY_INDEXES)  # on the empty tables: the copy brings their entries
        db.execute("ATTACH DATABASE ? AS side", (str(self.path),))
        db.execute("BEGIN")
        for table in self.TABLES:
            db.execute(f"INSERT INTO main.{table} SELECT * FROM side.{table}")
        db.execute("COMMIT")
        db.execute("DETACH DATABASE side")


def insert_messages(db: sqlite3.Connection, message_hours: dict, guild_of: dict) -> None:
    """`message_sent` rows, a few thousand channel-hours per statement."""
    batch: dict[str, dict] = {}
    size = 0
    for channel_id, hours in message_hours.items():
        batch.setdefault(guild_of.get(channel_id, ""), {})[channel_id] = hours
        size += len(hours)
        if size >= BATCH_ROWS:
            db.execute(MESSAGES, (orjson.dumps(batch, option=orjson.OPT_NON_STR_KEYS),))
            batch, size = {}, 0
    if batch:
        db.execute(MESSAGES, (orjson.dumps(batch, option=orjson.OPT_NON_STR_KEYS),))


def insert(
    db: sqlite3.Connection,
    table: str,
    rows: Iterable[tuple],
    shape: str = "",
    batch_rows: int = BATCH_ROWS,
) -> None:
    """Insert rows passed as JSON arrays, a batch per statement (few Python calls per row).

    `shape` is the SELECT list: constants as they are, a `?` for each value of a row (default:
    every column a value).
    """
    rows = iter(rows)
    while batch := list(islice(rows, batch_rows)):
        pieces = (shape or ", ".join("?" * len(batch[0]))).split("?")
        values = [f"json_extract(value, '$[{i}]')" for i in range(len(pieces) - 1)]
        columns = "".join(chain.from_iterable(zip(pieces, [*values, ""], strict=True)))
        sql = f"INSERT INTO {table} SELECT {columns} FROM json_each(?)"
        db.execute(sql, (orjson.dumps(batch),))
