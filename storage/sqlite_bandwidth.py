"""Bandwidth metering on the embedded backend: three tables in the main SQLite file.

Every change is one `BEGIN IMMEDIATE` transaction: it holds the database's write lock from its
first statement, so a charge reads the day's total and adds to it with no other writer in
between, in any thread or process. Entries are listed newest first by time, then by their row
number (commit order: SQLite gives a new row one more than the largest).
"""

from __future__ import annotations

import sqlite3

from storage.bandwidth import DELETION, UPLOAD, DayUsage, Transfer, new_transfer_id
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS bandwidth_days (
    meter TEXT NOT NULL,
    day TEXT NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    upload_count INTEGER NOT NULL DEFAULT 0,
    deletion_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (meter, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bandwidth_transfers (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    meter TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bandwidth_transfers_by_day
    ON bandwidth_transfers (meter, day, kind, at, seq);
CREATE TABLE IF NOT EXISTS bandwidth_limits (
    meter TEXT PRIMARY KEY,
    daily_limit INTEGER NOT NULL
) WITHOUT ROWID;
"""
_COUNTERS = "uploaded, deleted, upload_count, deletion_count"
# The day's row, made on its first transfer; params: meter, day.
_DAY_ROW = "INSERT INTO bandwidth_days (meter, day) VALUES (?, ?) ON CONFLICT DO NOTHING"
_INSERT_TRANSFER = (
    "INSERT INTO bandwidth_transfers (id, meter, day, kind, file_name, size, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LISTED = (
    "SELECT id, file_name, size, at FROM bandwidth_transfers"
    " WHERE meter = ? AND day = ? AND kind = ? ORDER BY at DESC, seq DESC LIMIT ?"
)


class SQLiteBandwidth:
    def __init__(self, connections: Connections):
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)

    def charge(
        self, meter: str, day: str, size: int, limit: int, file_name: str, at: float
    ) -> Transfer | None:
        with self._db.transaction() as conn:
            if _uploaded(conn, meter, day) + size > limit:
                return None
            transfer = Transfer(new_transfer_id(), file_name, size, at)
            _add(conn, meter, day, UPLOAD, transfer)
        return transfer

    def settle(self, meter: str, day: str, transfer_id: str, size: int) -> None:
        with self._db.transaction() as conn:
            charged = _charged_size(conn, meter, day, transfer_id)
            if charged is None:
                return
            conn.execute(
                "UPDATE bandwidth_transfers SET size = ? WHERE id = ?", (size, transfer_id)
            )
            conn.execute(
                "UPDATE bandwidth_days SET uploaded = uploaded + ? WHERE meter = ? AND day = ?",
                (size - charged, meter, day),
            )

    def refund(self, meter: str, day: str, transfer_id: str) -> None:
        with self._db.transaction() as conn:
            charged = _charged_size(conn, meter, day, transfer_id)
            if charged is None:
                return
            conn.execute("DELETE FROM bandwidth_transfers WHERE id = ?", (transfer_id,))
            conn.execute(
                "UPDATE bandwidth_days SET uploaded = uploaded - ?, upload_count = upload_count - 1"
                " WHERE meter = ? AND day = ?",
                (charged, meter, day),
            )

    def log_deletion(self, meter: str, day: str, file_name: str, size: int, at: float) -> Transfer:
        transfer = Transfer(new_transfer_id(), file_name, size, at)
        with self._db.transaction() as conn:
            _add(conn, meter, day, DELETION, transfer)
        return transfer

    def usage(self, meter: str, day: str, listed: int) -> DayUsage:
        conn = self._db.get()
        conn.execute("BEGIN")  # counters and entries of one snapshot
        try:
            row = conn.execute(
                f"SELECT {_COUNTERS} FROM bandwidth_days WHERE meter = ? AND day = ?", (meter, day)
            ).fetchone()
            return _day(conn, meter, day, row, listed) if row else DayUsage(meter, day)
        finally:
            conn.execute("COMMIT")

    def usages(self, meter: str, first_day: str, last_day: str, listed: int) -> list[DayUsage]:
        conn = self._db.get()
        conn.execute("BEGIN")
        try:
            rows = conn.execute(
                f"SELECT day, {_COUNTERS} FROM bandwidth_days"
                " WHERE meter = ? AND day BETWEEN ? AND ? ORDER BY day DESC",
                (meter, first_day, last_day),
            ).fetchall()
            return [_day(conn, meter, row[0], row[1:], listed) for row in rows]
        finally:
            conn.execute("COMMIT")

    def reset(self, meter: str, day: str) -> None:
        with self._db.transaction() as conn:
            for table in ("bandwidth_transfers", "bandwidth_days"):
                conn.execute(f"DELETE FROM {table} WHERE meter = ? AND day = ?", (meter, day))

    def set_limit(self, meter: str, limit: int | None) -> None:
        conn = self._db.get()
        if limit is None:
            conn.execute("DELETE FROM bandwidth_limits WHERE meter = ?", (meter,))
            return
        conn.execute(
            "INSERT INTO bandwidth_limits (meter, daily_limit) VALUES (?, ?)"
            " ON CONFLICT DO UPDATE SET daily_limit = excluded.daily_limit",
            (meter, limit),
        )

    def limit(self, meter: str) -> int | None:
        row = (
            self._db.get()
            .execute("SELECT daily_limit FROM bandwidth_limits WHERE meter = ?", (meter,))
            .fetchone()
        )
        return row[0] if row else None

    def delete_meter(self, meter: str) -> None:
        with self._db.transaction() as conn:
            for table in ("bandwidth_transfers", "bandwidth_days", "bandwidth_limits"):
                conn.execute(f"DELETE FROM {table} WHERE meter = ?", (meter,))


def _uploaded(conn: sqlite3.Connection, meter: str, day: str) -> int:
    row = conn.execute(
        "SELECT uploaded FROM bandwidth_days WHERE meter = ? AND day = ?", (meter, day)
    ).fetchone()
    return row[0] if row else 0


def _charged_size(conn: sqlite3.Connection, meter: str, day: str, transfer_id: str) -> int | None:
    """The size of an upload of the day, or None when the day has no upload with that id."""
    row = conn.execute(
        "SELECT size FROM bandwidth_transfers"
        " WHERE id = ? AND meter = ? AND day = ? AND kind = 'upload'",
        (transfer_id, meter, day),
    ).fetchone()
    return row[0] if row else None


def _add(conn: sqlite3.Connection, meter: str, day: str, kind: str, transfer: Transfer) -> None:
    """An entry and its bytes on the day's counters, inside the caller's transaction."""
    volume, count = (
        ("uploaded", "upload_count") if kind == UPLOAD else ("deleted", "deletion_count")
    )
    conn.execute(_DAY_ROW, (meter, day))
    conn.execute(
        f"UPDATE bandwidth_days SET {volume} = {volume} + ?, {count} = {count} + 1"
        " WHERE meter = ? AND day = ?",
        (transfer.size, meter, day),
    )
    conn.execute(
        _INSERT_TRANSFER,
        (transfer.id, meter, day, kind, transfer.file_name, transfer.size, transfer.at),
    )


def _day(conn: sqlite3.Connection, meter: str, day: str, counters: tuple, listed: int) -> DayUsage:
    """A day of stored counters with its newest `listed` entries of each kind."""
    uploads, deletions = (
        [Transfer(*row) for row in conn.execute(_LISTED, (meter, day, kind, listed))]
        for kind in (UPLOAD, DELETION)
    )
    uploaded, deleted, upload_count, deletion_count = counters
    return DayUsage(meter, day, uploaded, deleted, upload_count, deletion_count, uploads, deletions)
