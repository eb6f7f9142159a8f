"""Beat sweepers: reaper, orphan purge, temp-file cleanup; each safe to run twice."""

import os
import time

import pytest
from celery.signals import worker_ready

from storage import Status
from storage.crypto import DecryptionError
from storage.scratch import ScratchFile
from tasks import maintenance, names

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


def test_temp_cleanup_removes_what_no_live_run_holds(store, settings):
    settings.temp_dir.mkdir(parents=True)
    abandoned = settings.temp_dir / "abandoned.zip"
    abandoned.write_bytes(b"plaintext of a killed run")
    with ScratchFile(settings.temp_dir / "running.zip") as running:
        running.path.write_bytes(b"a live run's download")
        assert maintenance.clean_temp_files() == 1
        assert not abandoned.exists() and running.path.exists()
    assert list(settings.temp_dir.iterdir()) == []


def test_a_worker_starting_removes_abandoned_downloads(store, settings):
    settings.temp_dir.mkdir(parents=True)
    (settings.temp_dir / "abandoned.zip").write_bytes(b"x")
    worker_ready.send(sender=None)
    assert list(settings.temp_dir.iterdir()) == []


def test_the_reaper_destroys_link_keys_a_dead_process_left_for_an_ended_package(store, settings):
    link = "https://click.discord.com/ls/click?upn=" + "k" * 600
    ended, live = "1" * 32, "2" * 32
    store.packages.enqueue(ended, store.links.seal(ended, link), NOW)
    store.packages.enqueue(live, store.links.seal(live, link), time.time())
    leftover = store.links.seal(ended, link)  # as if the API died between seal and discard
    # the package ended through the bare repository: a process killed before it shredded
    assert store.packages._packages.fail(ended, None, "BROKER_UNAVAILABLE", NOW)
    past = time.time() - settings.stale_after_seconds - 5
    for path in store.links.key_dir.iterdir():
        os.utime(path, (past, past))
    maintenance.reap_stale_packages()
    assert [p.name[:32] for p in store.links.key_dir.iterdir()] == [live]
    with pytest.raises(DecryptionError):
        store.links.open(ended, leftover)


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
