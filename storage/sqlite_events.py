"""Stores' events on the embedded backend: a fold and a deletion are each one transaction, so
each event is counted exactly once and taken out exactly once.

Events get increasing sequence numbers in commit order (SQLite has one writer at a time: a new
row's number is one more than the largest), and the fold keeps the last one it counted
(`event_fold_cursor`): an event is counted when its number is at most the cursor. A deletion
that removes the largest numbers brings the cursor down to the largest left, so the numbers
SQLite hands out again are above it (AUTOINCREMENT would avoid reuse by writing a page of its
own at every commit: a fifth of a single event's cost to the API).

Each shopper of a store gets a small integer key (`event_shoppers`) that the events and the
shoppers' per-day counters carry instead of two UUIDs: the index a deletion needs costs half as
much to keep on every event, and a fold works on half the bytes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from storage.events import DayCount, DayPage, Event, utc_day
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS event_shoppers (
    key INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    UNIQUE (store_id, user_id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    shopper INTEGER NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    created_at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_shopper ON events (shopper);
CREATE TABLE IF NOT EXISTS event_fold_cursor (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_shopper_days (
    shopper INTEGER NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (shopper, type, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_type_days (
    store_id TEXT NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    events INTEGER NOT NULL,
    shoppers INTEGER NOT NULL,
    PRIMARY KEY (store_id, type, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_store_days (
    store_id TEXT NOT NULL,
    day TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (store_id, day)
) WITHOUT ROWID;
"""
_CURSOR = "counters"
_INSERT = "INSERT INTO events (id, shopper, type, day, created_at, data) VALUES (?, ?, ?, ?, ?, ?)"
# The last sequence number of one fold step, and how many events the step takes.
_STEP = "SELECT MAX(seq), COUNT(*) FROM (SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?)"
_SCRATCH = """
CREATE TEMP TABLE IF NOT EXISTS event_fold_groups (
    shopper INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    events INTEGER NOT NULL,
    new_shopper INTEGER NOT NULL
)
"""
_GROUP = """
INSERT INTO temp.event_fold_groups
SELECT e.shopper, k.store_id, e.type, e.day, COUNT(*),
    NOT EXISTS (
        SELECT 1 FROM event_shopper_days AS s
        WHERE s.shopper = e.shopper AND s.type = e.type AND s.day = e.day
    )
FROM events AS e JOIN event_shoppers AS k ON k.key = e.shopper
WHERE e.seq > ? AND e.seq <= ?
GROUP BY e.shopper, e.type, e.day
"""
# `WHERE true`: SQLite's way of telling an upsert's ON CONFLICT from a join's ON.
_ADD_SHOPPER_DAYS = """
INSERT INTO event_shopper_days (shopper, type, day, events)
SELECT shopper, type, day, events FROM temp.event_fold_groups WHERE true
ON CONFLICT DO UPDATE SET events = events + excluded.events
"""
_ADD_TYPE_DAYS = """
INSERT INTO event_type_days (store_id, type, day, events, shoppers)
SELECT store_id, type, day, SUM(events), SUM(new_shopper) FROM temp.event_fold_groups
WHERE true GROUP BY store_id, type, day
ON CONFLICT DO UPDATE SET events = events + excluded.events,
    shoppers = shoppers + excluded.shoppers
"""
_ADD_STORE_DAYS = """
INSERT INTO event_store_days (store_id, day, events)
SELECT store_id, day, SUM(events) FROM temp.event_fold_groups WHERE true GROUP BY store_id, day
ON CONFLICT DO UPDATE SET events = events + excluded.events
"""
_STORE_SHOPPERS = "SELECT key FROM event_shoppers WHERE store_id = ?"
IDS_PER_QUERY = 500  # user ids per lookup of their keys (SQLite allows 32,766 parameters)


def events_path(sqlite_path: Path) -> Path:
    """The events' own database file beside the store's `sqlite_path`: a stream of event
    writes then leaves the readers of the other tables (tokens, keys, stores) their page
    caches, which every commit to a shared file would make them read again."""
    return sqlite_path.with_name("events.sqlite3")


class SQLiteEventStore:
    def __init__(self, connections: Connections):
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)

    def append(self, events: list[Event]) -> None:
        with self._db.transaction() as conn:
            keys = _shopper_keys(conn, {(e.store_id, e.user_id) for e in events})
            rows = [
                (e.id, keys[e.store_id, e.user_id], e.type, utc_day(e.created_at), e.created_at,
                 e.data)
                for e in events
            ]  # fmt: skip
            conn.executemany(_INSERT, rows)

    def fold(self, limit: int, now: float) -> int:
        """One transaction, every step in SQL (no event passes through Python): the step's
        events grouped per shopper-day into a scratch table, each group marked new when the
        shopper had no event of that type that day, then added to the three counters."""
        with self._db.transaction() as conn:
            cursor = _cursor(conn)
            last, count = conn.execute(_STEP, (cursor, limit)).fetchone()
            if not count:
                return 0
            conn.execute(_SCRATCH)
            conn.execute("DELETE FROM temp.event_fold_groups")
            conn.execute(_GROUP, (cursor, last))
            for statement in (_ADD_SHOPPER_DAYS, _ADD_TYPE_DAYS, _ADD_STORE_DAYS):
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO event_fold_cursor (name, seq) VALUES (?, ?)",
                (_CURSOR, last),
            )
        return count

    def pending(self) -> int:
        conn = self._db.get()
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM events WHERE seq > ?", (_cursor(conn),)
        ).fetchone()
        return count

    def delete_shopper(self, store_id: str, user_id: str, now: float) -> int:
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT key FROM event_shoppers WHERE store_id = ? AND user_id = ?",
                (store_id, user_id),
            ).fetchone()
            if found is None:
                return 0
            (key,) = found
            counted = conn.execute(
                "SELECT type, day, events FROM event_shopper_days WHERE shopper = ?", (key,)
            ).fetchall()
            conn.executemany(
                "UPDATE event_type_days SET events = events - ?, shoppers = shoppers - 1"
                " WHERE store_id = ? AND type = ? AND day = ?",
                [(events, store_id, event_type, day) for event_type, day, events in counted],
            )
            conn.executemany(
                "UPDATE event_store_days SET events = events - ? WHERE store_id = ? AND day = ?",
                [(events, store_id, day) for _type, day, events in counted],
            )
            _drop_empty_days(conn, store_id, counted)
            conn.execute("DELETE FROM event_shopper_days WHERE shopper = ?", (key,))
            conn.execute("DELETE FROM event_shoppers WHERE key = ?", (key,))
            deleted = conn.execute("DELETE FROM events WHERE shopper = ?", (key,)).rowcount
            _cursor_below_new_numbers(conn)
        self._leave_no_copy()
        return deleted

    def delete_store(self, store_id: str) -> int:
        with self._db.transaction() as conn:
            conn.execute(
                f"DELETE FROM event_shopper_days WHERE shopper IN ({_STORE_SHOPPERS})", (store_id,)
            )
            deleted = conn.execute(
                f"DELETE FROM events WHERE shopper IN ({_STORE_SHOPPERS})", (store_id,)
            ).rowcount
            for table in ("event_type_days", "event_store_days", "event_shoppers"):
                conn.execute(f"DELETE FROM {table} WHERE store_id = ?", (store_id,))
            _cursor_below_new_numbers(conn)
        self._leave_no_copy()
        return deleted

    def _leave_no_copy(self) -> None:
        """After a deletion: the WAL copied into the file (where `secure_delete` zeroed the
        deleted rows) and truncated, so it keeps no page of them (best effort: a reader on an
        older snapshot makes it partial, and the next deletion tries again)."""
        self._db.get().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def type_days(
        self, store_id: str, event_type: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        where = "store_id = ? AND type = ? AND day BETWEEN ? AND ?"
        return self._page(
            "event_type_days", "events, shoppers", where,
            (store_id, event_type, first_day, last_day), offset, limit,
        )  # fmt: skip

    def store_days(
        self, store_id: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        where = "store_id = ? AND day BETWEEN ? AND ?"
        return self._page(
            "event_store_days", "events, 0", where, (store_id, first_day, last_day), offset, limit
        )

    def _page(
        self, table: str, columns: str, where: str, parameters: tuple, offset: int, limit: int
    ) -> DayPage:
        conn = self._db.get()
        (total,) = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {where}", parameters
        ).fetchone()
        rows = conn.execute(
            f"SELECT day, {columns} FROM {table} WHERE {where} ORDER BY day LIMIT ? OFFSET ?",
            (*parameters, limit, offset),
        )
        return DayPage(total, [DayCount(*row) for row in rows])

    def events(self, store_id: str) -> Iterator[Event]:
        rows = self._db.get().execute(
            "SELECT e.id, k.store_id, k.user_id, e.type, e.data, e.created_at"
            " FROM events AS e JOIN event_shoppers AS k ON k.key = e.shopper"
            " WHERE k.store_id = ? ORDER BY e.seq",
            (store_id,),
        )
        for row in rows:
            yield Event(*row)


def _shopper_keys(
    conn: sqlite3.Connection, shoppers: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The key of each (store id, user id), given to those that have none yet: the known ones
    read `IDS_PER_QUERY` at a time (a batch's thousand shoppers cost a query per shopper
    otherwise, a tenth of its time)."""
    users_of: dict[str, list[str]] = {}
    for store_id, user_id in shoppers:
        users_of.setdefault(store_id, []).append(user_id)
    keys: dict[tuple[str, str], int] = {}
    for store_id, users in users_of.items():
        for start in range(0, len(users), IDS_PER_QUERY):
            chunk = users[start : start + IDS_PER_QUERY]
            rows = conn.execute(
                "SELECT user_id, key FROM event_shoppers WHERE store_id = ? AND user_id IN "
                f"({','.join('?' * len(chunk))})",
                (store_id, *chunk),
            )
            keys.update(((store_id, user_id), key) for user_id, key in rows)
    for store_id, user_id in shoppers - keys.keys():
        (keys[store_id, user_id],) = conn.execute(
            "INSERT INTO event_shoppers (store_id, user_id) VALUES (?, ?) RETURNING key",
            (store_id, user_id),
        ).fetchone()
    return keys


def _cursor(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM event_fold_cursor WHERE name = ?", (_CURSOR,)).fetchone()
    return row[0] if row else 0


def _cursor_below_new_numbers(conn: sqlite3.Connection) -> None:
    """After a deletion: the cursor at most the largest number left, so the next event's
    number (one more than that) is not taken for counted."""
    conn.execute(
        "UPDATE event_fold_cursor SET seq = MIN(seq, (SELECT COALESCE(MAX(seq), 0) FROM events))"
    )


def _drop_empty_days(
    conn: sqlite3.Connection, store_id: str, counted: list[tuple[str, str, int]]
) -> None:
    """The days a deletion left with no event are no longer days with events."""
    conn.executemany(
        "DELETE FROM event_type_days WHERE store_id = ? AND type = ? AND day = ? AND events <= 0",
        [(store_id, event_type, day) for event_type, day, _events in counted],
    )
    conn.executemany(
        "DELETE FROM event_store_days WHERE store_id = ? AND day = ? AND events <= 0",
        [(store_id, day) for day in {day for _type, day, _events in counted}],
    )
