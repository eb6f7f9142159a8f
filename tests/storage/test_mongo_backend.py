"""MongoDB-only guarantees (on mongomock): indexes, and purge_orphans re-checking each package."""

from __future__ import annotations

import mongomock
import pytest

from storage.mongo_backend import MongoStore

NOW = 1_700_000_000.0


@pytest.fixture
def mongo_store():
    store = MongoStore(mongomock.MongoClient(), "test_storage_mongo")
    store.ensure_indexes()
    return store


def test_status_sent_at_index(mongo_store):
    mongo_store.ensure_indexes()  # idempotent
    keys = [info["key"] for info in mongo_store._db["packages"].index_information().values()]
    assert [("status", 1), ("sent_at", 1)] in keys


def test_purge_orphans_rechecks_the_package_before_deleting(mongo_store, monkeypatch):
    mongo_store.packages.enqueue("revived", b"link", NOW)  # enqueued after the orphan lookup
    mongo_store.statistics.put_many("revived", 1, [("v1", b"a")])
    mongo_store.statistics.put_many("orphan", 1, [("v1", b"b"), ("v2", b"c")])
    stale_lookup = ["orphan", "revived"]
    monkeypatch.setattr(mongo_store.statistics, "orphan_package_ids", lambda limit: stale_lookup)
    assert mongo_store.statistics.purge_orphans() == 2
    assert mongo_store.statistics.get("revived", 1, "v1") == b"a"
    assert mongo_store.statistics.get("orphan", 1, "v1") is None
