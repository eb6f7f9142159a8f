"""The storage contract of `statistics.get_current`: a package's state and its published view."""

from __future__ import annotations

from storage.base import Status
from tests.storage.contract_support import LINK, NOW, claimed


def test_no_package_is_none(store):
    assert store.statistics.get_current("nope", "v1") is None


def test_a_queued_package_has_no_view_yet(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert store.statistics.get_current("p1", "v1") == (Status.QUEUED, None, 0, None)


def test_a_processed_package_gives_the_view_of_its_published_generation(store):
    claimed(store)
    store.statistics.put_many("p1", 1, [("v1", b"old")])
    store.statistics.put_many("p1", 2, [("v1", b"new"), ("v2", b"other")])
    assert store.packages.publish("p1", "t1", 2, NOW + 5)
    current = store.statistics.get_current("p1", "v1")
    assert current == (Status.PROCESSED, None, 2, b"new")
    assert isinstance(current[0], Status) and isinstance(current[3], bytes)
    assert store.statistics.get_current("p1", "missing") == (Status.PROCESSED, None, 2, None)


def test_an_errored_package_gives_its_error_code(store):
    claimed(store)
    assert store.packages.fail("p1", "t1", "DOWNLOAD_FAILED", NOW + 1)
    assert store.statistics.get_current("p1", "v1") == (Status.ERRORED, "DOWNLOAD_FAILED", 0, None)


def test_another_package_views_are_not_read(store):
    claimed(store, "p1")
    claimed(store, "p2")
    store.statistics.put_many("p2", 1, [("v1", b"theirs")])
    assert store.packages.publish("p1", "t1", 1, NOW + 5)
    assert store.statistics.get_current("p1", "v1") == (Status.PROCESSED, None, 1, None)
