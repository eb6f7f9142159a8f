"""Stores' events on the embedded backend: a fold and a deletion are each one transaction, so
each event is counted exactly once and taken out exactly once.

Events get increasing sequence numbers in commit order (SQLite has one writer at a time), and
the fold keeps the last one it counted (`event_fold_cursor`): an event is counted when its
number is at most the cursor.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from storage.events import DayCount, DayPage, Event, tally, utc_day
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    created_at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_shopper ON events (store_id, user_id);
CREATE TABLE IF NOT EXISTS event_fold_cursor (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_shopper_days (
    store_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    day TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (store_id, user_id, type, day)
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
_INSERT = (
    "INSERT INTO events (id, store_id, user_id, type, day, created_at, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_ADD_SHOPPER_DAY = (
    "INSERT INTO event_shopper_days (store_id, user_id, type, day, events) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET events = events + excluded.events RETURNING events"
)
_ADD_TYPE_DAY = (
    "INSERT INTO event_type_days (store_id, type, day, events, shoppers) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET events = events + excluded.events,"
    " shoppers = shoppers + excluded.shoppers"
)
_ADD_STORE_DAY = (
    "INSERT INTO event_store_days (store_id, day, events) VALUES (?, ?, ?)"
    " ON CONFLICT DO UPDATE SET events = events + excluded.events"
)


class SQLiteEventStore:
    def __init__(self, connections: Connections):
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)

    def append(self, events: list[Event]) -> None:
        rows = [
            (e.id, e.store_id, e.user_id, e.type, utc_day(e.created_at), e.created_at, e.data)
            for e in events
        ]
        with self._db.transaction() as conn:
            conn.executemany(_INSERT, rows)

    def fold(self, limit: int, now: float) -> int:
        with self._db.transaction() as conn:
            cursor = _cursor(conn)
            rows = conn.execute(
                "SELECT seq, store_id, type, day, user_id FROM events WHERE seq > ?"
                " ORDER BY seq LIMIT ?",
                (cursor, limit),
            ).fetchall()
            if not rows:
                return 0
            counts = tally(row[1:] for row in rows)
            new_shoppers: dict[tuple[str, str, str], int] = dict.fromkeys(counts.per_type_day(), 0)
            for (store_id, event_type, day, user_id), events in counts.per_shopper_day.items():
                (total,) = conn.execute(
                    _ADD_SHOPPER_DAY, (store_id, user_id, event_type, day, events)
                ).fetchone()
                new_shoppers[store_id, event_type, day] += total == events
            conn.executemany(
                _ADD_TYPE_DAY,
                [
                    (*key, events, new_shoppers[key])
                    for key, events in counts.per_type_day().items()
                ],
            )
            conn.executemany(
                _ADD_STORE_DAY, [(*key, n) for key, n in counts.per_store_day().items()]
            )
            conn.execute(
                "INSERT OR REPLACE INTO event_fold_cursor (name, seq) VALUES (?, ?)",
                (_CURSOR, rows[-1][0]),
            )
        return len(rows)

    def pending(self) -> int:
        conn = self._db.get()
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM events WHERE seq > ?", (_cursor(conn),)
        ).fetchone()
        return count

    def delete_shopper(self, store_id: str, user_id: str, now: float) -> int:
        with self._db.transaction() as conn:
            counted = conn.execute(
                "SELECT type, day, events FROM event_shopper_days"
                " WHERE store_id = ? AND user_id = ?",
                (store_id, user_id),
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
            conn.execute(
                "DELETE FROM event_shopper_days WHERE store_id = ? AND user_id = ?",
                (store_id, user_id),
            )
            _drop_empty_days(conn, store_id, counted)
            return conn.execute(
                "DELETE FROM events WHERE store_id = ? AND user_id = ?", (store_id, user_id)
            ).rowcount

    def delete_store(self, store_id: str) -> int:
        with self._db.transaction() as conn:
            for table in ("event_shopper_days", "event_type_days", "event_store_days"):
                conn.execute(f"DELETE FROM {table} WHERE store_id = ?", (store_id,))
            return conn.execute("DELETE FROM events WHERE store_id = ?", (store_id,)).rowcount

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
            "SELECT id, store_id, user_id, type, data, created_at FROM events"
            " WHERE store_id = ? ORDER BY seq",
            (store_id,),
        )
        for row in rows:
            yield Event(*row)


def _cursor(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM event_fold_cursor WHERE name = ?", (_CURSOR,)).fetchone()
    return row[0] if row else 0


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
