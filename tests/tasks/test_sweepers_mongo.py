"""The tombstone sweep and the retention sweeper through their tasks, on the MongoDB backend
(mongomock); `test_maintenance.py` runs them on SQLite."""

from __future__ import annotations

import time

import mongomock
import pytest

from storage import Status
from storage.link_vault import LinkVault
from storage.mongo_backend import MongoStore
from tasks import maintenance, services
from tests.support.mongomock_compat import let_gridfs_take_mongomock, let_mongomock_take_sort

let_mongomock_take_sort()
let_gridfs_take_mongomock()

DAY = 86_400
LINK = "https://click.discord.com/ls/click?upn=" + "m" * 600


@pytest.fixture
def mongo(settings):
    kept = settings.with_overrides(package_retention_days=7)
    store = MongoStore(
        mongomock.MongoClient(), "sweepers", LinkVault(kept.link_key_dir, kept.server_secret())
    )
    store.ensure_indexes()
    services.use(kept, store)
    yield store, kept
    services.use(None, None)


def processed(store, package_id: str, finished_at: float) -> None:
    store.packages.enqueue(package_id, store.links.seal(package_id, LINK), finished_at - 60)
    assert store.packages.claim(package_id, "t", finished_at - 30, 0.0)
    store.statistics.put_many(package_id, 4, [("v", b"sealed")])
    store.app_files.put(package_id, 4, "00" * 16, b"f" * 32)
    assert store.packages.publish(package_id, "t", 4, finished_at)


def test_retention_on_mongo_deletes_everything_of_an_expired_package(mongo):
    store, _ = mongo
    old, recent = "a" * 32, "b" * 32
    processed(store, old, time.time() - 8 * DAY)
    processed(store, recent, time.time() - 6 * DAY)
    assert maintenance.purge_expired_packages() == 1
    assert store.packages.get(old) is None
    assert store.statistics.get(old, 4, "v") is None and store.app_files.get(old, 4) is None
    assert store.packages.get(recent).status == Status.PROCESSED
    assert store.app_files.get(recent, 4) is not None


def test_tombstone_sweep_on_mongo_removes_what_a_deleted_package_left(mongo):
    store, settings = mongo
    package_id = "c" * 32
    processed(store, package_id, time.time())
    long_ago = time.time() - settings.stale_after_seconds - 5
    store.packages.delete(package_id, long_ago)  # the document only: as if the API then died
    assert maintenance.sweep_tombstones() == 1
    assert store.statistics.get(package_id, 4, "v") is None
    assert store.app_files.get(package_id, 4) is None
    assert store.packages.find_tombstones(float("inf")) == []
