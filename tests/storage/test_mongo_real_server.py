"""The production MongoDB client against a real server: run only when TEST_MONGO_URL names one.

MongoDB is not installed where the suite usually runs (the contract suite then uses mongomock);
docs/health-and-store.md gives the commands to start a single-node replica set and run this.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from settings import Settings
from storage import EnqueueOutcome, open_store

URL = os.environ.get("TEST_MONGO_URL", "")
pytestmark = pytest.mark.skipif(not URL, reason="TEST_MONGO_URL names no MongoDB server")


def _url_naming(database: str) -> str:
    parts = urlsplit(URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def real_store(tmp_path):
    database = f"test_real_{uuid.uuid4().hex[:12]}"
    settings = Settings(data_dir=tmp_path, mongo_url=_url_naming(database), secret_key="real")
    store = open_store(settings, role="api")
    yield store, database
    store._client.drop_database(database)
    store.close()


def test_the_production_client_writes_to_a_replica_set_primary(real_store):
    store, database = real_store
    assert store.ping(timeout=2)
    hello = store._client.admin.command("hello")
    assert hello.get("setName"), "majority writes and retryable writes need a replica set"
    assert hello["isWritablePrimary"]
    assert store._db.name == database  # the database named in the URL
    assert store._db.write_concern.document == {"w": "majority", "j": True}
    options = store._client.options
    assert (options.retry_writes, options.retry_reads) == (True, True)
    assert store.packages.enqueue("p1", b"link", 1.0) is EnqueueOutcome.CREATED
    assert store.packages.get("p1").sealed_link == b"link"


def test_the_connection_is_named_after_the_process_kind(real_store):
    store, _ = real_store
    store.packages.get("p1")  # a connection opened, idle in the pool afterwards
    pipeline = [
        {"$currentOp": {"allUsers": True, "idleConnections": True}},
        {"$match": {"appName": "dumpus-api"}},
    ]
    assert list(store._client.admin.aggregate(pipeline)), "no dumpus-api connection seen"
