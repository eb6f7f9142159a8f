"""SQLite-only guarantees: races between threads and processes, and no plaintext in the files."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from storage import sqlite_backend
from storage.base import EnqueueOutcome, Status
from storage.crypto import PackageKey
from storage.link_vault import LinkVault
from storage.sqlite_backend import SQLiteStore

NOW = 1_700_000_000.0
SECRET = b"server-secret-for-tests"


def _store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.ensure_indexes()
    return store


def test_pragmas(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    own = store._connections.get()
    assert own.execute("PRAGMA busy_timeout").fetchone() == (30_000,)
    assert own.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    store.close()


def test_fifty_threads_enqueue_the_same_package(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    barrier = threading.Barrier(50)

    def enqueue(i: int) -> EnqueueOutcome:
        barrier.wait()
        return store.packages.enqueue("p1", f"link{i}".encode(), NOW + i)

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(enqueue, range(50)))
    assert outcomes.count(EnqueueOutcome.CREATED) == 1
    assert outcomes.count(EnqueueOutcome.EXISTING) == 49
    assert store.packages.queue_position("p1") == (0, 1)
    store.close()


def test_threads_requeue_an_errored_package_once(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    store.packages.enqueue("p1", b"link", NOW)
    store.packages.fail("p1", None, "BROKER_UNAVAILABLE", NOW)
    barrier = threading.Barrier(20)

    def enqueue(i: int) -> EnqueueOutcome:
        barrier.wait()
        return store.packages.enqueue("p1", b"link", NOW + i)

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(enqueue, range(20)))
    assert outcomes.count(EnqueueOutcome.REQUEUED) == 1
    assert outcomes.count(EnqueueOutcome.EXISTING) == 19
    store.close()


def _enqueue_in_process(path, barrier, results):
    store = SQLiteStore(path)
    barrier.wait()
    results.put(store.packages.enqueue("p1", b"link", NOW).value)
    store.close()


def _claim_in_process(path, token, barrier, results):
    store = SQLiteStore(path)
    barrier.wait()
    record = store.packages.claim("p1", token, NOW, NOW - 120)
    results.put((token, record.claim_token if record else None))
    store.close()


def _run_processes(target, args_for, count):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(count), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(count)
    ]
    for proc in procs:
        proc.start()
    answers = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return answers


def test_processes_enqueue_the_same_package(tmp_path):
    path = tmp_path / "db.sqlite3"
    _store(path).close()
    answers = _run_processes(_enqueue_in_process, lambda i: (path,), 4)
    assert sorted(answers) == ["CREATED", "EXISTING", "EXISTING", "EXISTING"]


def test_two_processes_claim_the_same_package(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = _store(path)
    store.packages.enqueue("p1", b"link", NOW)
    answers = _run_processes(_claim_in_process, lambda i: (path, f"token{i}"), 2)
    winners = [token for token, claimed in answers if claimed == token]
    assert len(winners) == 1
    assert [claimed for _, claimed in answers].count(None) == 1
    record = store.packages.get("p1")
    assert (record.status, record.claim_token, record.attempts) == (
        Status.DOWNLOADING,
        winners[0],
        1,
    )
    store.close()


def test_connections_per_thread_and_close(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    store.packages.enqueue("p1", b"link", NOW)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(store.packages.get("p1")))
    thread.start()
    thread.join()
    assert seen[0].status is Status.QUEUED
    assert store._connections.get() is store._connections.get()
    store.close()
    assert store.ping()  # a closed store reopens on demand
    store.close()


def test_ping_is_false_when_the_database_cannot_open(tmp_path):
    store = SQLiteStore(tmp_path / "missing-dir" / "db.sqlite3")
    assert store.ping() is False


def test_database_files_hold_no_plaintext(tmp_path):
    marker = "MARKER-7f3a-plaintext-must-not-leak"
    upn = "U" * 600
    link = f"https://click.discord.com/ls/click?upn={upn}"
    key = PackageKey("p1", upn, SECRET)
    store = _store(tmp_path / "db.sqlite3")
    vault = LinkVault(tmp_path / "keys", SECRET)
    store.packages.enqueue("p1", vault.seal("b" * 32, link), NOW)
    view = "messages/top_channels"
    sealed = key.seal(view, {"channel": marker, "count": 3, "padding": marker * 50})
    store.statistics.put_many("p1", 1, [(key.view_id(view), sealed)])
    store.statistics.put_many("control", 1, [("control", b"CONTROL-PLAINTEXT-IS-VISIBLE")])
    contents = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"CONTROL-PLAINTEXT-IS-VISIBLE" in contents  # the scan does see stored bytes
    assert sealed in contents
    for secret in (marker, upn[:40], "click.discord.com", view):
        assert secret.encode() not in contents, secret
    assert key.open(view, store.statistics.get("p1", 1, key.view_id(view)))["channel"] == marker
    store.close()


def test_claim_without_returning_support(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_backend, "_HAS_RETURNING", False)
    store = _store(tmp_path / "db.sqlite3")
    store.packages.enqueue("p1", b"link", NOW)
    record = store.packages.claim("p1", "t1", NOW, NOW - 120)
    assert (record.status, record.claim_token, record.attempts) == (Status.DOWNLOADING, "t1", 1)
    assert store.packages.claim("p1", "t2", NOW, NOW - 120) is None
    assert store.packages.claim("nope", "t2", NOW, NOW - 120) is None
    store.close()


def _claim_after_fork(store, results):
    record = store.packages.claim("p1", "child", NOW, NOW - 120)
    results.put(record.claim_token if record else None)


def test_a_forked_child_opens_its_own_connection(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    store.packages.enqueue("p1", b"link", NOW)  # the parent's connection is open
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=_claim_after_fork, args=(store, results))
    child.start()
    assert results.get(timeout=60) == "child"
    child.join(timeout=60)
    assert child.exitcode == 0
    assert store.packages.get("p1").claim_token == "child"
    store.close()


def test_threads_mark_sent_once(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    store.packages.enqueue("p1", b"link", NOW)
    barrier = threading.Barrier(20)

    def mark(i: int) -> bool:
        barrier.wait()
        return store.packages.mark_sent("p1", NOW + 10, NOW + 10 + i)

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(mark, range(20))).count(True) == 1
    store.close()


def test_find_unsent_uses_the_status_sent_at_index(tmp_path):
    store = _store(tmp_path / "db.sqlite3")
    store.ensure_indexes()  # idempotent with the new column and index
    plan = store._connections.get().execute(
        "EXPLAIN QUERY PLAN SELECT package_id FROM packages WHERE status = 'QUEUED' "
        "AND (sent_at < ? OR sent_at IS NULL) ORDER BY sent_at, package_id LIMIT 10",
        (NOW,),
    )
    assert any("packages_status_sent_at" in row[-1] for row in plan.fetchall())
    store.close()


def test_an_ended_package_leaves_no_copy_of_its_sealed_link_in_the_files(tmp_path):
    vault = LinkVault(tmp_path / "keys", SECRET)
    store = SQLiteStore(tmp_path / "db.sqlite3", vault)
    store.ensure_indexes()
    link = "https://click.discord.com/ls/click?upn=" + "L" * 600
    ids = [f"{n:032x}" for n in range(3)]
    sealed = {package_id: vault.seal(package_id, link) for package_id in ids}
    for package_id in ids:
        store.packages.enqueue(package_id, sealed[package_id], NOW)
        assert store.packages.claim(package_id, "t", NOW, NOW - 120)

    def contents() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3*"))

    assert all(blob in contents() for blob in sealed.values())  # the scan sees live links
    assert store.packages.publish(ids[0], "t", 1, NOW + 1)
    assert store.packages.fail(ids[1], "t", "INVALID_PACKAGE", NOW + 1)
    assert store.packages.delete(ids[2])
    assert (tmp_path / "db.sqlite3-wal").stat().st_size == 0  # checkpointed and truncated
    assert all(blob not in contents() for blob in sealed.values())
    assert store._connections.get().execute("PRAGMA secure_delete").fetchone() == (1,)
    store.close()


def test_audit_rows_of_the_first_layout_become_batches(tmp_path):
    """A data directory from before audit batches: its one-row-per-call table is adopted, counted
    rows as counted, the others left for the next fold, and dropped."""
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE audit_records (seq INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL,"
            " at REAL NOT NULL, account_id TEXT, organization_id TEXT, route TEXT NOT NULL,"
            " method TEXT NOT NULL, status INTEGER NOT NULL, duration_ms REAL,"
            " folded INTEGER NOT NULL DEFAULT 0);"
            "INSERT INTO audit_records (day, at, account_id, organization_id, route, method,"
            " status, duration_ms, folded) VALUES"
            " ('2026-12-01', 1.5, 'a1', 'o1', '/r', 'GET', 200, 2.5, 1),"
            " ('2026-12-02', 2.5, NULL, NULL, '/health', 'GET', 200, NULL, 0);"
        )
    store = _store(path)
    try:
        assert [(r.day, r.account_id, r.duration_ms) for r in store.audit.records()] == [
            ("2026-12-01", "a1", 2.5),
            ("2026-12-02", None, None),
        ]
        assert store.audit.pending() == 1
        assert store.audit.fold(limit=10, now=3.0) == 1
        with sqlite3.connect(path) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "audit_records" not in tables
    finally:
        store.close()


def test_api_keys_of_the_first_layout_get_their_storefront_column(tmp_path):
    """A data directory from before storefronts: its keys stay an account's own keys."""
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
            " name TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,"
            " created_at REAL NOT NULL, revoked_at REAL, last_used_day TEXT);"
            "INSERT INTO api_keys VALUES ('k1', 'a1', 'old', 'dpk_abcdefgh', 'h', 1.0, NULL, NULL);"
        )
    store = _store(path)
    try:
        (key,) = store.identity.api_keys.list("a1")
        assert key.id == "k1" and key.storefront_id is None
        store.identity.ensure_schema()  # again: nothing to add
    finally:
        store.close()
