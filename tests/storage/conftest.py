"""Fixtures of the storage tests: one `store` per backend, so the contract suite runs on both.

MongoDB is a real server when TEST_MONGO_URL (or MONGO_URL) is set (a fresh database per test,
dropped after), and mongomock otherwise, so the pymongo code path is always exercised. Against a
real server the client has the production options (`storage.mongo_client_options`: majority
writes, retryable reads and writes); docs/health-and-store.md shows how to run it on a replica set.
"""

from __future__ import annotations

import os
import uuid

import pytest

from settings import Settings
from storage import mongo_client_options
from storage.link_vault import LinkVault
from storage.mongo_backend import MongoStore
from storage.sqlite_backend import SQLiteStore
from tests.support.mongomock_compat import (
    let_gridfs_take_mongomock,
    let_mongomock_take_sort,
    make_mongomock_operations_atomic,
)

SECRET = b"storage-test-secret"


let_mongomock_take_sort()
let_gridfs_take_mongomock()
make_mongomock_operations_atomic()


def _sqlite_store(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite3", LinkVault(tmp_path / "keys", SECRET))
    store.ensure_indexes()
    yield store
    store.close()


def _mongo_store(tmp_path):
    url = os.environ.get("TEST_MONGO_URL") or os.environ.get("MONGO_URL")
    if url:
        import pymongo

        options = mongo_client_options(Settings(), "worker") | {"serverSelectionTimeoutMS": 5000}
        client = pymongo.MongoClient(url, **options)
    else:
        import mongomock

        client = mongomock.MongoClient()
    db_name = f"test_storage_{uuid.uuid4().hex}"
    store = MongoStore(client, db_name, LinkVault(tmp_path / "keys", SECRET))
    store.ensure_indexes()
    yield store
    client.drop_database(db_name)
    client.close()


@pytest.fixture(params=["sqlite", "mongo"])
def store(request, tmp_path):
    """A fresh, empty store of each backend with its indexes ensured and a link vault."""
    if request.param == "sqlite":
        yield from _sqlite_store(tmp_path)
    else:
        yield from _mongo_store(tmp_path)
