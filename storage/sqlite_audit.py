"""The audit log on the embedded backend: a fold is one transaction, so it counts exactly once."""

from __future__ import annotations

from storage.audit import AuditRecord, Kind, tally
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    at REAL NOT NULL,
    account_id TEXT,
    organization_id TEXT,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms REAL,
    folded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_records_unfolded ON audit_records (folded, seq);
CREATE INDEX IF NOT EXISTS audit_records_day ON audit_records (day, folded);
CREATE TABLE IF NOT EXISTS usage_daily (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    day TEXT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (kind, subject, day)
) WITHOUT ROWID;
"""

_INSERT = (
    "INSERT INTO audit_records (day, at, account_id, organization_id, route, method, status,"
    " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADD = (
    "INSERT INTO usage_daily (kind, subject, day, calls) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (kind, subject, day) DO UPDATE SET calls = calls + excluded.calls"
)


class SQLiteAuditLog:
    def __init__(self, connections: Connections):
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)

    def append(self, records: list[AuditRecord]) -> None:
        with self._db.transaction() as conn:  # a record is a tuple in the INSERT's column order
            conn.executemany(_INSERT, records)

    def fold(self, limit: int, now: float) -> int:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT seq, day, account_id, organization_id FROM audit_records"
                " WHERE folded = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            if not rows:
                return 0
            counts = tally((day, account, org) for _seq, day, account, org in rows)
            conn.executemany(_ADD, [(*key, calls) for key, calls in counts.items()])
            conn.execute(
                "UPDATE audit_records SET folded = 1 WHERE folded = 0 AND seq <= ?",
                (rows[-1][0],),
            )
        return len(rows)

    def expire(self, before_day: str, limit: int) -> int:
        cursor = self._db.get().execute(
            "DELETE FROM audit_records WHERE seq IN (SELECT seq FROM audit_records"
            " WHERE day < ? AND folded = 1 LIMIT ?)",
            (before_day, limit),
        )
        return cursor.rowcount

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
            self._db.get().execute("SELECT COUNT(*) FROM audit_records WHERE folded = 0").fetchone()
        )
        return count
