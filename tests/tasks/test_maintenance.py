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


def _long_ago(settings) -> float:
    """A time older than the tombstone sweep's grace period."""
    return time.time() - settings.stale_after_seconds - 5


def test_tombstone_sweep_removes_what_a_deleted_package_left(store, settings):
    store.statistics.put_many("e" * 32, 1, [("v1", b"x"), ("v2", b"y")])
    store.app_files.put("e" * 32, 1, "00" * 16, b"z" * 16)
    store.packages.delete("e" * 32, _long_ago(settings))  # a worker wrote after the DELETE
    assert maintenance.sweep_tombstones() == 1
    assert store.statistics.get("e" * 32, 1, "v1") is None
    assert store.app_files.get("e" * 32, 1) is None
    assert maintenance.sweep_tombstones() == 0  # the tombstone is gone


def test_tombstone_sweep_waits_out_the_grace_period(store, settings):
    store.statistics.put_many("e" * 32, 1, [("v1", b"x")])
    store.packages.delete("e" * 32, time.time())  # a racing worker may still be writing
    assert maintenance.sweep_tombstones() == 0
    assert store.statistics.get("e" * 32, 1, "v1") == b"x"


def test_tombstone_sweep_keeps_a_package_submitted_again(store, settings):
    store.packages.delete("d" * 32, _long_ago(settings))
    store.packages.enqueue("d" * 32, b"s", NOW)
    assert store.packages.claim("d" * 32, "t", time.time(), 0.0)
    store.statistics.put_many("d" * 32, 9, [("v1", b"new run")])
    assert maintenance.sweep_tombstones() == 1
    assert store.statistics.get("d" * 32, 9, "v1") == b"new run"
    assert store.packages.find_tombstones(float("inf")) == []


def test_tombstone_sweep_cleans_a_failed_package_whose_worker_died_before_discarding(
    store, settings
):
    _running(store, "c" * 32)
    store.statistics.put_many("c" * 32, 5, [("v", b"unpublished")])
    assert store.packages.fail("c" * 32, None, "UNKNOWN_ERROR", _long_ago(settings))
    assert maintenance.sweep_tombstones() == 1
    assert store.statistics.get("c" * 32, 5, "v") is None


def test_tombstone_sweep_keeps_the_published_generation(store, settings):
    store.statistics.put_many("b" * 32, 1, [("v", b"left by a run racing the DELETE")])
    store.packages.delete("b" * 32, _long_ago(settings))
    store.packages.enqueue("b" * 32, b"s", NOW)  # submitted again and processed since
    assert store.packages.claim("b" * 32, "t", time.time(), 0.0)
    store.statistics.put_many("b" * 32, 2, [("v", b"published")])
    assert store.packages.publish("b" * 32, "t", 2, time.time())
    assert maintenance.sweep_tombstones() == 1
    assert store.statistics.get("b" * 32, 2, "v") == b"published"
    assert store.statistics.get("b" * 32, 1, "v") is None


def test_the_hourly_purge_no_longer_reads_the_statistics(store, monkeypatch):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("the statistics collection was scanned")

    monkeypatch.setattr(store.statistics, "orphan_package_ids", forbidden)
    maintenance.purge_orphan_app_files()
    maintenance.sweep_tombstones()


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


# -- retention ------------------------------------------------------------------------------------

DAY = 86_400


def _ended(store, package_id, days_ago, processed=True):
    at = time.time() - days_ago * DAY
    sealed = store.links.seal(package_id, "https://click.discord.com/ls/click?upn=" + "r" * 600)
    store.packages.enqueue(package_id, sealed, at - 60)
    assert store.packages.claim(package_id, "t", at - 30, 0.0)
    if processed:
        store.statistics.put_many(package_id, 3, [("v", b"sealed view")])
        store.app_files.put(package_id, 3, "00" * 16, b"f" * 16)
        assert store.packages.publish(package_id, "t", 3, at)
    else:
        assert store.packages.fail(package_id, "t", "DOWNLOAD_FAILED", at)


@pytest.fixture
def retention(store, settings):
    """The sweeper's settings with a retention of 30 days."""
    from tasks import services

    kept = settings.with_overrides(package_retention_days=30)
    services.use(kept, store)
    return kept


def test_retention_deletes_packages_ended_longer_ago_with_everything_they_had(store, retention):
    old, failed, recent = "1" * 32, "2" * 32, "3" * 32
    _ended(store, old, days_ago=31)
    _ended(store, failed, days_ago=40, processed=False)
    _ended(store, recent, days_ago=29)
    store.links.seal(old, "https://click.discord.com/ls/click?upn=" + "s" * 600)  # a stray key
    assert maintenance.purge_expired_packages() == 2
    assert store.packages.get(old) is None and store.packages.get(failed) is None
    assert store.statistics.get(old, 3, "v") is None
    assert store.app_files.get(old, 3) is None
    assert [p.name[:32] for p in store.links.key_dir.iterdir()] == []
    assert store.packages.get(recent).status == Status.PROCESSED
    assert store.statistics.get(recent, 3, "v") == b"sealed view"
    assert maintenance.purge_expired_packages() == 0


def test_retention_never_touches_a_live_package(store, retention):
    store.packages.enqueue("4" * 32, b"s", time.time() - 90 * DAY)
    _running(store, "5" * 32)
    assert maintenance.purge_expired_packages() == 0
    assert store.packages.get("4" * 32).status == Status.QUEUED


def test_no_retention_keeps_packages_forever(store, settings):
    assert settings.package_retention_days == 0
    _ended(store, "6" * 32, days_ago=3650)
    assert maintenance.purge_expired_packages() == 0
    assert store.packages.get("6" * 32).status == Status.PROCESSED


def test_every_sweeper_is_on_the_beat_schedule():
    import celeryconfig

    scheduled = {entry["task"] for entry in celeryconfig.beat_schedule.values()}
    assert {
        names.SWEEP_TOMBSTONES,
        names.PURGE_EXPIRED_PACKAGES,
        names.PURGE_ORPHAN_APP_FILES,
    } <= scheduled
