"""The audit log on the embedded backend: a fold is one transaction, so it counts exactly once."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator

from storage.audit import (
    BATCH_RECORDS,
    AuditRecord,
    Kind,
    batches,
    callers,
    tally,
    unpack,
    whole_batches,
)
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    records INTEGER NOT NULL,
    body BLOB NOT NULL,
    folded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_batches_unfolded ON audit_batches (folded, seq);
CREATE INDEX IF NOT EXISTS audit_batches_day ON audit_batches (day, folded);
CREATE TABLE IF NOT EXISTS usage_daily (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    day TEXT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (kind, subject, day)
) WITHOUT ROWID;
"""

_ADD = (
    "INSERT INTO usage_daily (kind, subject, day, calls) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (kind, subject, day) DO UPDATE SET calls = calls + excluded.calls"
)
# The candidates of one step: a step takes whole batches, as many as fit in its limit.
_UNFOLDED = "SELECT seq, records FROM audit_batches WHERE folded = 0 ORDER BY seq LIMIT ?"
_EXPIRED = (
    "SELECT seq, records FROM audit_batches WHERE day < ? AND folded = 1 ORDER BY seq LIMIT ?"
)


class SQLiteAuditLog:
    def __init__(self, connections: Connections):
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)
        self._adopt_record_rows()

    def _adopt_record_rows(self) -> None:
        """Move the rows of the first layout (one `audit_records` row per call) into batches,
        counted or not as they were, then drop that table."""
        with self._db.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'"
            ).fetchone():
                return
            for folded in (1, 0):
                rows = conn.execute(
                    f"SELECT {', '.join(AuditRecord._fields)} FROM audit_records"
                    " WHERE folded = ? ORDER BY seq",
                    (folded,),
                )
                while chunk := rows.fetchmany(BATCH_RECORDS):
                    self._insert(conn, [AuditRecord(*row) for row in chunk], folded)
            conn.execute("DROP TABLE audit_records")

    def append(self, records: list[AuditRecord]) -> None:
        with self._db.transaction() as conn:
            self._insert(conn, records, folded=0)

    @staticmethod
    def _insert(conn: sqlite3.Connection, records: list[AuditRecord], folded: int) -> None:
        conn.executemany(
            "INSERT INTO audit_batches (day, records, body, folded) VALUES (?, ?, ?, ?)",
            [(*batch, folded) for batch in batches(records)],
        )

    def fold(self, limit: int, now: float) -> int:
        with self._db.transaction() as conn:
            chosen, records = whole_batches(conn.execute(_UNFOLDED, (limit,)).fetchall(), limit)
            if not chosen:
                return 0
            bodies = conn.execute(
                f"SELECT body FROM audit_batches WHERE seq IN ({_marks(chosen)})", chosen
            ).fetchall()
            counts = tally(itertools.chain.from_iterable(callers(body) for (body,) in bodies))
            conn.executemany(_ADD, [(*key, calls) for key, calls in counts.items()])
            conn.execute(
                f"UPDATE audit_batches SET folded = 1 WHERE seq IN ({_marks(chosen)})", chosen
            )
        return records

    def expire(self, before_day: str, limit: int) -> int:
        with self._db.transaction() as conn:
            candidates = conn.execute(_EXPIRED, (before_day, limit)).fetchall()
            chosen, records = whole_batches(candidates, limit)
            if chosen:
                conn.execute(f"DELETE FROM audit_batches WHERE seq IN ({_marks(chosen)})", chosen)
        return records

    def records(self) -> Iterator[AuditRecord]:
        rows = self._db.get().execute("SELECT body FROM audit_batches ORDER BY seq").fetchall()
        for (body,) in rows:
            yield from unpack(body)

    def daily_calls(
        self, kind: Kind, subject: str, first_day: str, last_day: str
    ) -> dict[str, int]:
        rows = (
            self._db.get()
            .execute(
                "SELECT day, calls FROM usage_daily WHERE kind = ? AND subject = ?"
                " AND day BETWEEN ? AND ?",
                (kind, subject, first_day, last_day),
            )
            .fetchall()
        )
        return dict(rows)

    def pending(self) -> int:
        (count,) = (
            self._db.get()
            .execute("SELECT COALESCE(SUM(records), 0) FROM audit_batches WHERE folded = 0")
            .fetchone()
        )
        return count


def _marks(seqs: list[int]) -> str:
    return ", ".join("?" * len(seqs))
