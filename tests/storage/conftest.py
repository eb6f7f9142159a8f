"""Fixtures of the storage tests: one `store` per backend, so the contract suite runs on both.

MongoDB is a real server when MONGO_URL is set (a fresh database per test, dropped after), and
mongomock otherwise, so the pymongo code path is always exercised.
"""

from __future__ import annotations

import inspect
import os
import uuid

import mongomock.collection
import pytest

from storage.mongo_backend import MongoStore
from storage.sqlite_backend import SQLiteStore


def _let_mongomock_take_sort() -> None:
    """pymongo >= 4.11 passes `sort=` to the bulk builder, which mongomock 4.3 does not accept.

    The backend keeps plain `bulk_write([ReplaceOne(...)])`; only the fake server is taught to
    ignore a `sort` of None (the backend never sets one).
    """
    builder = mongomock.collection.BulkOperationBuilder
    if "sort" in inspect.signature(builder.add_replace).parameters:
        return
    add_replace = builder.add_replace

    def add_replace_ignoring_sort(self, *args, sort=None, **kwargs):
        assert sort is None, "mongomock cannot sort a replace"
        return add_replace(self, *args, **kwargs)

    builder.add_replace = add_replace_ignoring_sort


_let_mongomock_take_sort()


def _sqlite_store(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.ensure_indexes()
    yield store
    store.close()


def _mongo_store():
    url = os.environ.get("MONGO_URL")
    if url:
        import pymongo

        client = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
    else:
        import mongomock

        client = mongomock.MongoClient()
    db_name = f"test_storage_{uuid.uuid4().hex}"
    store = MongoStore(client, db_name)
    store.ensure_indexes()
    yield store
    client.drop_database(db_name)
    client.close()


@pytest.fixture(params=["sqlite", "mongo"])
def store(request, tmp_path):
    """A fresh, empty store of each backend with its indexes ensured."""
    if request.param == "sqlite":
        yield from _sqlite_store(tmp_path)
    else:
        yield from _mongo_store()
