"""MongoDB-only guarantees (on mongomock): indexes."""

from __future__ import annotations

import mongomock
import pytest

from storage.mongo_backend import MongoStore


@pytest.fixture
def mongo_store():
    store = MongoStore(mongomock.MongoClient(), "test_storage_mongo")
    store.ensure_indexes()
    return store


def test_status_sent_at_index(mongo_store):
    mongo_store.ensure_indexes()  # idempotent
    keys = [info["key"] for info in mongo_store._db["packages"].index_information().values()]
    assert [("status", 1), ("sent_at", 1)] in keys
