"""The embedded backend: one SQLite file in WAL mode, shared by the web, worker and beat processes.

Each thread (and each process, after a fork) gets its own connection in autocommit mode; every
state change is one conditional statement, so SQLite's write lock is the only coordination needed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from storage.base import ACTIVE_STATUSES, EnqueueOutcome, PackageRecord, Status
from storage.link_vault import LinkVault
from storage.shredding import ShreddingPackages
from storage.sqlite_app_files import SQLiteAppFiles
from storage.sqlite_audit import SQLiteAuditLog
from storage.sqlite_bandwidth import SQLiteBandwidth
from storage.sqlite_connection import SCHEMA, Connections
from storage.sqlite_events import SQLiteEventStore, events_path
from storage.sqlite_identity import SQLiteIdentity
from storage.sqlite_projects import SQLiteProjects
from storage.sqlite_statistics import SQLiteStatistics
from storage.upload_digests import SQLiteUploadDigests

_CLAIMABLE = "(status = 'QUEUED' OR (status IN ('DOWNLOADING', 'ANALYZING') AND heartbeat_at < ?))"
_IS_ACTIVE = "status IN ('DOWNLOADING', 'ANALYZING')"
_COLUMNS = (
    "package_id, status, error_code, sealed_link, queued_at, started_at, finished_at, "
    "heartbeat_at, attempts, claim_token, generation, progress, bytes_done, bytes_total, sent_at"
)
_BACK_TO_QUEUED = """
UPDATE packages SET status = 'QUEUED', claim_token = NULL, heartbeat_at = NULL, progress = 0,
    bytes_done = NULL, bytes_total = NULL, sent_at = ?"""
# Back to QUEUED, keeping queued_at and attempts (release, requeue_stale); params: sent_at, id.
_REQUEUE_ACTIVE = f"{_BACK_TO_QUEUED}\nWHERE package_id = ? AND {_IS_ACTIVE}"
_FAIL = (
    "UPDATE packages SET status = 'ERRORED', error_code = ?, finished_at = ?, "
    "sealed_link = NULL, claim_token = NULL WHERE package_id = ? AND "
)
_UNSENT = "status = 'QUEUED' AND (sent_at < ? OR sent_at IS NULL)"
# The ERRORED branch of enqueue: a fresh start with the new link (see SQLitePackages.enqueue).
_REQUEUE_ERRORED = """
UPDATE packages SET status = 'QUEUED', error_code = NULL, sealed_link = ?, queued_at = ?,
    started_at = NULL, finished_at = NULL, heartbeat_at = NULL, attempts = 0,
    claim_token = NULL, progress = 0, bytes_done = NULL, bytes_total = NULL, sent_at = ?
WHERE package_id = ? AND status = 'ERRORED'
"""
_CLAIM = f"""
UPDATE packages SET status = 'DOWNLOADING', claim_token = ?, attempts = attempts + 1,
    started_at = ?, heartbeat_at = ?, progress = 0, bytes_done = NULL, bytes_total = NULL
WHERE package_id = ? AND {_CLAIMABLE}
"""
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_ENDED = "status IN ('PROCESSED', 'ERRORED')"
_TOMBSTONE = (
    "INSERT INTO tombstones (package_id, at) VALUES (?, ?) "
    "ON CONFLICT (package_id) DO UPDATE SET at = excluded.at"
)


def _record(row: tuple) -> PackageRecord:
    """A packages row (in `_COLUMNS` order) as a record."""
    return PackageRecord(row[0], Status(row[1]), *row[2:])


class SQLitePackages:
    """Package documents in the `packages` table."""

    def __init__(self, connections: Connections):
        self._db = connections

    def _run(self, sql: str, params: tuple = ()) -> int:
        return self._db.get().execute(sql, params).rowcount

    def _run_leaving_tombstone(
        self, sql: str, params: tuple, package_id: str, now: float, always: bool = False
    ) -> bool:
        """Run a change and, in the same transaction, leave a tombstone if it changed anything."""
        with self._db.transaction() as conn:
            changed = bool(conn.execute(sql, params).rowcount)
            if changed or always:
                conn.execute(_TOMBSTONE, (package_id, now))
        return changed

    def enqueue(self, package_id: str, sealed_link: bytes, now: float) -> EnqueueOutcome:
        """Create as QUEUED, or reset an ERRORED one to QUEUED; otherwise change nothing.

        REQUEUED is a fresh start: new sealed link, `queued_at=now`, `attempts=0`, error code,
        claim, times and progress cleared; the published `generation` is kept. CREATED and
        REQUEUED set `sent_at=now`.
        """
        created = self._run(
            "INSERT INTO packages (package_id, status, sealed_link, queued_at, sent_at) "
            "VALUES (?, 'QUEUED', ?, ?, ?) ON CONFLICT (package_id) DO NOTHING",
            (package_id, sealed_link, now, now),
        )
        if created:
            return EnqueueOutcome.CREATED
        if self._run(_REQUEUE_ERRORED, (sealed_link, now, now, package_id)):
            return EnqueueOutcome.REQUEUED
        return EnqueueOutcome.EXISTING

    def get(self, package_id: str) -> PackageRecord | None:
        """The package, or None."""
        row = (
            self._db.get()
            .execute(f"SELECT {_COLUMNS} FROM packages WHERE package_id = ?", (package_id,))
            .fetchone()
        )
        return _record(row) if row else None

    def claim(
        self, package_id: str, token: str, now: float, stale_before: float
    ) -> PackageRecord | None:
        """Take the package for one worker run (QUEUED, or active with a stale heartbeat)."""
        params = (token, now, now, package_id, stale_before)
        if _HAS_RETURNING:
            # fetchall() steps the statement to its end, so the write is committed on return.
            sql = f"{_CLAIM} RETURNING {_COLUMNS}"
            rows = self._db.get().execute(sql, params).fetchall()
            return _record(rows[0]) if rows else None
        with self._db.transaction() as conn:
            if not conn.execute(_CLAIM, params).rowcount:
                return None
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM packages WHERE package_id = ?", (package_id,)
            ).fetchone()
        return _record(row)

    def set_step(
        self,
        package_id: str,
        token: str,
        step: Status,
        progress: int,
        bytes_done: int | None,
        bytes_total: int | None,
        now: float,
    ) -> bool:
        """Record progress and a heartbeat; False when the claim is lost (deleted, reaped)."""
        if step not in ACTIVE_STATUSES:
            raise ValueError(f"set_step takes an active status, not {step}")
        progress = max(0, min(100, int(progress)))
        sql = (
            "UPDATE packages SET status = ?, progress = ?, bytes_done = ?, bytes_total = ?, "
            f"heartbeat_at = ? WHERE package_id = ? AND claim_token = ? AND {_IS_ACTIVE}"
        )
        values = (Status(step).value, progress, bytes_done, bytes_total, now, package_id, token)
        return bool(self._run(sql, values))

    def publish(self, package_id: str, token: str, generation: int, now: float) -> bool:
        """PROCESSED with that generation, link wiped, claim released; only for the claimer."""
        return bool(
            self._run(
                "UPDATE packages SET status = 'PROCESSED', generation = ?, finished_at = ?, "
                "progress = 100, sealed_link = NULL, claim_token = NULL, error_code = NULL "
                f"WHERE package_id = ? AND claim_token = ? AND {_IS_ACTIVE}",
                (generation, now, package_id, token),
            )
        )

    def fail(self, package_id: str, token: str | None, code: str, now: float) -> bool:
        """ERRORED with the code, link wiped, claim released (token None: any QUEUED or active)."""
        if token is None:
            sql = _FAIL + "status IN ('QUEUED', 'DOWNLOADING', 'ANALYZING')"
            return self._run_leaving_tombstone(sql, (code, now, package_id), package_id, now)
        sql = _FAIL + f"claim_token = ? AND {_IS_ACTIVE}"
        return self._run_leaving_tombstone(sql, (code, now, package_id, token), package_id, now)

    def fail_stale(self, package_id: str, stale_before: float, code: str, now: float) -> bool:
        """ERRORED like `fail(token=None)`, only when QUEUED or active with a stale heartbeat."""
        params = (code, now, package_id, stale_before)
        return self._run_leaving_tombstone(_FAIL + _CLAIMABLE, params, package_id, now)

    def release(
        self, package_id: str, token: str, now: float, refund_attempt: bool = False
    ) -> bool:
        """The claimer gives the package back: QUEUED, keeping its place in line and attempts
        (one fewer with `refund_attempt`)."""
        sql = _REQUEUE_ACTIVE + " AND claim_token = ?"
        if refund_attempt:
            sql = sql.replace("sent_at = ?", "sent_at = ?, attempts = max(attempts - 1, 0)", 1)
        return bool(self._run(sql, (now, package_id, token)))

    def requeue_stale(self, package_id: str, stale_before: float, now: float) -> bool:
        """An active package with a stale heartbeat back to QUEUED, keeping its place in line.

        Sets `sent_at=now`: the reaper sends its message right after.
        """
        sql = _REQUEUE_ACTIVE + " AND heartbeat_at < ?"
        return bool(self._run(sql, (now, package_id, stale_before)))

    def find_stale(self, stale_before: float, limit: int = 100) -> list[PackageRecord]:
        """Active packages whose heartbeat is older than `stale_before`, oldest first."""
        rows = (
            self._db.get()
            .execute(
                f"SELECT {_COLUMNS} FROM packages WHERE {_IS_ACTIVE} AND heartbeat_at < ? "
                "ORDER BY heartbeat_at, package_id LIMIT ?",
                (stale_before, limit),
            )
            .fetchall()
        )
        return [_record(row) for row in rows]

    def find_unsent(self, sent_before: float, limit: int = 100) -> list[PackageRecord]:
        """QUEUED packages sent before `sent_before` (or never), oldest `sent_at` first."""
        sql = f"SELECT {_COLUMNS} FROM packages WHERE {_UNSENT} "
        sql += "ORDER BY sent_at, package_id LIMIT ?"
        rows = self._db.get().execute(sql, (sent_before, limit)).fetchall()
        return [_record(row) for row in rows]

    def mark_sent(self, package_id: str, sent_before: float, now: float) -> bool:
        """`sent_at=now` only when QUEUED and sent before `sent_before` (or never): one winner."""
        sql = f"UPDATE packages SET sent_at = ? WHERE package_id = ? AND {_UNSENT}"
        return bool(self._run(sql, (now, package_id, sent_before)))

    def queue_position(self, package_id: str) -> tuple[int, int]:
        """(QUEUED packages queued before this one, all QUEUED packages); ties by package id.

        A package that is not QUEUED (or does not exist) is at position 0.
        """
        row = (
            self._db.get()
            .execute(
                "SELECT "
                "(SELECT COUNT(*) FROM packages o WHERE o.status = 'QUEUED' AND "
                " (o.queued_at < p.queued_at OR "
                "  (o.queued_at = p.queued_at AND o.package_id < p.package_id))), "
                "(SELECT COUNT(*) FROM packages WHERE status = 'QUEUED') "
                "FROM (SELECT 1) LEFT JOIN packages p "
                "ON p.package_id = ? AND p.status = 'QUEUED'",
                (package_id,),
            )
            .fetchone()
        )
        return int(row[0]), int(row[1])

    def delete(self, package_id: str, now: float | None = None) -> bool:
        """Remove the package document (True when one existed) and leave a tombstone."""
        sql, at = "DELETE FROM packages WHERE package_id = ?", time.time() if now is None else now
        return self._run_leaving_tombstone(sql, (package_id,), package_id, at, always=True)

    def find_tombstones(self, before: float, limit: int = 100) -> list[tuple[str, float]]:
        """`(package_id, at)` of tombstones left before `before`, oldest first."""
        sql = "SELECT package_id, at FROM tombstones WHERE at < ? ORDER BY at, package_id LIMIT ?"
        return [(row[0], row[1]) for row in self._db.get().execute(sql, (before, limit))]

    def clear_tombstone(self, package_id: str, at: float) -> bool:
        """Remove the package's tombstone if it is still the one left at `at`."""
        sql = "DELETE FROM tombstones WHERE package_id = ? AND at = ?"
        return bool(self._run(sql, (package_id, at)))

    def find_expired(self, finished_before: float, limit: int = 100) -> list[PackageRecord]:
        """PROCESSED or ERRORED packages finished before `finished_before`, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM packages WHERE {_ENDED} AND finished_at < ? "
        sql += "ORDER BY finished_at, package_id LIMIT ?"
        rows = self._db.get().execute(sql, (finished_before, limit)).fetchall()
        return [_record(row) for row in rows]

    def delete_expired(self, package_id: str, finished_before: float, now: float) -> bool:
        """Delete the package only while it is ended and finished before `finished_before`."""
        sql = f"DELETE FROM packages WHERE package_id = ? AND {_ENDED} AND finished_at < ?"
        return self._run_leaving_tombstone(sql, (package_id, finished_before), package_id, now)

    def count_by_status(self) -> dict[Status, int]:
        """How many packages are in each status; every status is a key (0 when none)."""
        rows = self._db.get().execute("SELECT status, COUNT(*) FROM packages GROUP BY status")
        return dict.fromkeys(Status, 0) | {Status(status): count for status, count in rows}

    def count_by_error_code(self) -> dict[str, int]:
        """How many ERRORED packages there are per error code (only codes that occur)."""
        rows = self._db.get().execute(
            "SELECT error_code, COUNT(*) FROM packages WHERE status = 'ERRORED' "
            "AND error_code IS NOT NULL GROUP BY error_code"
        )
        return dict(rows.fetchall())


class SQLiteStore:
    """The embedded store: packages and statistics in one SQLite file (WAL mode), app data
    files beside it (`app_files_dir`, default `appfiles/` next to the database).

    With a `LinkVault`, every end of a package shreds its link keys and then checkpoints and
    truncates the WAL, so the store files keep no stale page of it (`secure_delete` zeroes
    freed pages in the database file itself).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        links: LinkVault | None = None,
        app_files_dir: str | os.PathLike | None = None,
    ):
        self.path = Path(path)
        self._connections = Connections(self.path)
        self.links = links
        packages = SQLitePackages(self._connections)
        self.upload_digests = SQLiteUploadDigests(self._connections)
        forget = self.upload_digests.forget_package
        self.packages = (
            ShreddingPackages(packages, links, self.compact, forget) if links else packages
        )
        self.statistics = SQLiteStatistics(self._connections, packages_table="packages")
        folder = Path(app_files_dir) if app_files_dir else self.path.parent / "appfiles"
        self.app_files = SQLiteAppFiles(self._connections, folder, packages_table="packages")
        self.identity = SQLiteIdentity(self._connections)
        self.audit = SQLiteAuditLog(self._connections)
        self.bandwidth = SQLiteBandwidth(self._connections)
        self.projects = SQLiteProjects(self._connections)
        self._event_connections = Connections(events_path(self.path))
        self.events = SQLiteEventStore(self._event_connections)

    def compact(self) -> None:
        """Copy the WAL into the database and truncate it to zero bytes (best effort).

        A reader still on an older snapshot makes the checkpoint partial; the next end retries.
        """
        self._connections.get().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def ping(self, timeout: float | None = None) -> bool:
        """True when the database answers SELECT 1 (a local file: `timeout` is not needed)."""
        try:
            return self._connections.get().execute("SELECT 1").fetchone() == (1,)
        except sqlite3.Error:
            return False

    def ensure_indexes(self) -> None:
        """Create the tables and indexes (idempotent)."""
        self._connections.get().executescript(SCHEMA)
        self.identity.ensure_schema()
        self.audit.ensure_schema()
        self.events.ensure_schema()
        self.upload_digests.ensure_schema()
        self.bandwidth.ensure_schema()
        self.projects.ensure_schema()

    def close(self) -> None:
        """Close every connection this process opened."""
        self._connections.close()
        self._event_connections.close()
