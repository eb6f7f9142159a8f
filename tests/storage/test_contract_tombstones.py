"""Tombstones and retention, on every backend: what the sweepers find without scanning statistics.

A tombstone names a package whose statistics and files may need removing (deleted, failed or
expired); `find_tombstones` and `find_expired` are index-backed queries over small sets.
"""

from __future__ import annotations

from storage.base import Status
from tests.storage.contract_support import LINK, NOW, STALE
from tests.storage.contract_support import claimed as _claimed

DAY = 86_400.0


def _processed(store, package_id, finished_at):
    _claimed(store, package_id, token="t1", now=finished_at - 10)
    assert store.packages.publish(package_id, "t1", 7, finished_at)


def test_delete_leaves_a_tombstone_even_for_an_unknown_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert store.packages.delete("p1", NOW + 1)
    assert not store.packages.delete("never", NOW + 2)
    assert store.packages.find_tombstones(NOW + 3) == [("p1", NOW + 1), ("never", NOW + 2)]


def test_delete_without_a_time_uses_the_current_one(store):
    store.packages.delete("p1")
    [(package_id, at)] = store.packages.find_tombstones(float("inf"))
    assert package_id == "p1" and at > NOW


def test_find_tombstones_takes_only_older_ones_oldest_first_up_to_the_limit(store):
    for i, package_id in enumerate(("c", "a", "b")):
        store.packages.delete(package_id, NOW + i)
    assert store.packages.find_tombstones(NOW + 1) == [("c", NOW)]
    assert store.packages.find_tombstones(NOW + 10, limit=2) == [("c", NOW), ("a", NOW + 1)]
    assert store.packages.find_tombstones(NOW) == []


def test_a_failure_leaves_a_tombstone_a_refused_one_may_not(store):
    _claimed(store, "p1")
    assert store.packages.fail("p1", "t1", "DOWNLOAD_FAILED", NOW + 5)
    assert ("p1", NOW + 5) in store.packages.find_tombstones(NOW + 6)


def test_fail_stale_leaves_a_tombstone(store):
    _claimed(store, "p1")
    late = NOW + 10 * STALE
    assert store.packages.fail_stale("p1", late, "WORKER_LOST", late)
    assert store.packages.find_tombstones(late + 1) == [("p1", late)]


def test_clear_tombstone_keeps_a_newer_one(store):
    store.packages.delete("p1", NOW)
    store.packages.delete("p1", NOW + 50)  # deleted again (submitted and deleted meanwhile)
    assert not store.packages.clear_tombstone("p1", NOW)
    assert store.packages.find_tombstones(NOW + 100) == [("p1", NOW + 50)]
    assert store.packages.clear_tombstone("p1", NOW + 50)
    assert store.packages.find_tombstones(NOW + 100) == []
    assert not store.packages.clear_tombstone("p1", NOW + 50)


def test_find_expired_lists_ended_packages_finished_before_the_cutoff(store):
    _processed(store, "old", NOW - 10 * DAY)
    _processed(store, "recent", NOW - DAY)
    _claimed(store, "failed", now=NOW - 20 * DAY)
    assert store.packages.fail("failed", "t1", "DOWNLOAD_FAILED", NOW - 20 * DAY)
    store.packages.enqueue("queued", LINK, NOW - 30 * DAY)
    _claimed(store, "running", now=NOW - 30 * DAY)
    expired = store.packages.find_expired(NOW - 5 * DAY)
    assert [r.package_id for r in expired] == ["failed", "old"]
    assert [r.package_id for r in store.packages.find_expired(NOW - 5 * DAY, limit=1)] == ["failed"]


def test_delete_expired_deletes_only_what_is_still_expired(store):
    _processed(store, "old", NOW - 10 * DAY)
    _claimed(store, "failed", now=NOW - 20 * DAY)
    assert store.packages.fail("failed", "t1", "DOWNLOAD_FAILED", NOW - 20 * DAY)
    store.packages.enqueue("failed", LINK, NOW)  # submitted again since the lookup: kept
    assert not store.packages.delete_expired("failed", NOW - 5 * DAY, NOW)
    assert store.packages.get("failed").status == Status.QUEUED
    assert not store.packages.delete_expired("old", NOW - 11 * DAY, NOW)
    assert store.packages.delete_expired("old", NOW - 5 * DAY, NOW + 1)
    assert store.packages.get("old") is None
    assert ("old", NOW + 1) in store.packages.find_tombstones(NOW + 2)
    assert not store.packages.delete_expired("old", NOW - 5 * DAY, NOW + 2)


def test_delete_expired_shreds_the_link_keys(store):
    package_id = "a" * 32
    sealed = store.links.seal(package_id, "https://example.test/x")
    store.packages.enqueue(package_id, sealed, NOW - 9 * DAY)
    assert store.packages.claim(package_id, "t1", NOW - 9 * DAY, 0.0)
    store.links.seal(package_id, "https://example.test/y")  # a key the fail did not shred
    assert store.packages.fail(package_id, "t1", "DOWNLOAD_FAILED", NOW - 9 * DAY)
    store.links.seal(package_id, "https://example.test/z")
    assert list(store.links.key_dir.glob(f"{package_id}*"))
    assert store.packages.delete_expired(package_id, NOW - 5 * DAY, NOW)
    assert list(store.links.key_dir.glob(f"{package_id}*")) == []
