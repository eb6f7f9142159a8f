"""SQLite plumbing for the embedded backend: the schema and one connection per thread and process.

WAL mode lets the web, worker and beat processes read while one of them writes; `busy_timeout`
makes a writer wait for the lock instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    package_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error_code TEXT,
    sealed_link BLOB,
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim_token TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    progress INTEGER NOT NULL DEFAULT 0,
    bytes_done INTEGER,
    bytes_total INTEGER,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS packages_status_queued_at ON packages (status, queued_at);
CREATE INDEX IF NOT EXISTS packages_status_heartbeat_at ON packages (status, heartbeat_at);
CREATE INDEX IF NOT EXISTS packages_status_sent_at ON packages (status, sent_at);
CREATE INDEX IF NOT EXISTS packages_status_finished_at ON packages (status, finished_at);
CREATE TABLE IF NOT EXISTS tombstones (
    package_id TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_at ON tombstones (at, package_id);
CREATE TABLE IF NOT EXISTS statistics (
    package_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    view_id TEXT NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (package_id, generation, view_id)
);
CREATE TABLE IF NOT EXISTS app_files (
    package_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    iv TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    PRIMARY KEY (package_id, generation)
);
"""


class Connections:
    """One connection per thread and per process; all of this process's ones closed together."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and again in a forked child)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False only so close() may close other threads' connections.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Freed pages are zeroed, so a deleted row leaves no copy in the file (or in the WAL).
        conn.execute("PRAGMA secure_delete = ON")
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours to close
                self._open, self._pid = [], os.getpid()
            self._open.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on this thread's connection, ROLLBACK on error."""
        conn = self.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this process opened."""
        with self._lock:
            conns, self._open = (self._open if self._pid == os.getpid() else []), []
        for conn in conns:
            conn.close()
        self._local = threading.local()
