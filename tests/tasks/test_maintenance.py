"""Beat sweepers: reaper, orphan purge, temp-file cleanup; each safe to run twice."""

import os
import time

from storage import Status
from tasks import maintenance, names, services

NOW = time.time()


def _running(store, package_id, attempts=1, heartbeat=NOW - 3600):
    store.packages.enqueue(package_id, b"sealed", NOW - 7200)
    for i in range(attempts):
        store.packages.requeue_stale(package_id, float("inf"), NOW)
        assert store.packages.claim(package_id, f"t{i}", heartbeat, heartbeat)


def test_reaper_requeues_a_silent_package_and_sends_it_again(store, sent):
    _running(store, "a" * 32)
    assert maintenance.reap_stale_packages() == 1
    assert store.packages.get("a" * 32).status == Status.QUEUED
    assert sent == [
        (
            names.PROCESS_PACKAGE,
            {"args": ["a" * 32], "task_id": "a" * 32, "queue": names.PACKAGES_QUEUE},
        )
    ]
    assert maintenance.reap_stale_packages() == 0  # safe to run twice


def test_reaper_fails_a_package_after_the_last_attempt(store, sent, settings):
    _running(store, "b" * 32, attempts=settings.max_attempts)
    maintenance.reap_stale_packages()
    record = store.packages.get("b" * 32)
    assert (record.status, record.error_code) == (Status.ERRORED, "WORKER_LOST")
    assert record.sealed_link is None
    assert sent == []


def test_reaper_leaves_a_heart_beating_package_alone(store, sent):
    _running(store, "c" * 32, heartbeat=time.time())
    assert maintenance.reap_stale_packages() == 0
    assert store.packages.get("c" * 32).status == Status.DOWNLOADING


def test_purge_removes_statistics_of_deleted_packages_only(store):
    store.packages.enqueue("d" * 32, b"s", NOW)
    store.statistics.put_many("d" * 32, 1, [("v1", b"x")])
    store.statistics.put_many("e" * 32, 1, [("v1", b"x"), ("v2", b"y")])
    assert maintenance.purge_orphan_statistics() == 2
    assert store.statistics.get("d" * 32, 1, "v1") == b"x"
    assert maintenance.purge_orphan_statistics() == 0


def test_temp_cleanup_removes_only_old_downloads(store, settings):
    settings = settings.with_overrides(package_time_limit=60)
    services.use(settings, store)
    settings.temp_dir.mkdir(parents=True)
    old, fresh = settings.temp_dir / "old.zip", settings.temp_dir / "fresh.zip"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    past = time.time() - settings.temp_max_age_seconds - 10
    os.utime(old, (past, past))
    assert maintenance.clean_temp_files() == 1
    assert not old.exists() and fresh.exists()


def test_temp_cleanup_never_removes_a_file_a_long_run_may_still_read(store, settings):
    settings = settings.with_overrides(temp_max_age_seconds=60, package_time_limit=7200)
    services.use(settings, store)
    settings.temp_dir.mkdir(parents=True)
    running = settings.temp_dir / "running.zip"
    running.write_bytes(b"x")
    past = time.time() - 3600  # older than TEMP_MAX_AGE_SECONDS, younger than a run may last
    os.utime(running, (past, past))
    assert maintenance.clean_temp_files() == 0 and running.exists()


def test_a_queued_package_whose_message_is_old_is_sent_once_more(store, sent, settings):
    store.packages.enqueue("f" * 32, b"sealed", NOW - settings.resend_after_seconds - 60)
    store.packages.enqueue("0" * 32, b"sealed", NOW)  # sent just now: left alone
    assert maintenance.reap_stale_packages() == 1
    assert [kw["args"] for _, kw in sent] == [["f" * 32]]
    assert maintenance.reap_stale_packages() == 0  # resent once, not at every beat


def test_a_worker_lost_package_leaves_no_sealed_statistics(store, sent, settings):
    _running(store, "9" * 32, attempts=settings.max_attempts)
    store.statistics.put_many("9" * 32, 5, [("v", b"sealed")])
    maintenance.reap_stale_packages()
    assert store.statistics.get("9" * 32, 5, "v") is None
