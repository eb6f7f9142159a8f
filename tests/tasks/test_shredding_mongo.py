"""The MongoDB code path: a dump (every document, and every write the oplog would have kept)
gives back no link of an ended package, even with the server secret and the link key folder.

mongomock has no oplog, so every write the backend sends is recorded as the oplog would record
it; the packages run through the worker's code path (`run_package`) against a real download
server on 127.0.0.1.
"""

from __future__ import annotations

import pickle
import secrets
import time

import bson
import mongomock
import pytest

from samples import SampleSpec, generate_package
from storage.link_vault import LinkVault
from storage.links import parse_package_link
from storage.mongo_app_files import MongoAppFiles
from storage.mongo_backend import MongoStore
from tasks.pipeline import run_package
from tests.support import forensics
from tests.support.httpserver import ScriptedServer, body
from tests.support.mongomock_compat import let_gridfs_take_mongomock, let_mongomock_take_sort

let_mongomock_take_sort()
let_gridfs_take_mongomock()

WRITES = ("insert_one", "update_one", "find_one_and_update", "bulk_write", "delete_one")
WRITES += ("delete_many", "replace_one", "update_many")


class OplogRecorder:
    """A collection that records every write sent to it, the way an oplog keeps it."""

    def __init__(self, collection, oplog: list[bytes]):
        self._collection = collection
        self._oplog = oplog
        self.name = collection.name

    def __getattr__(self, name):
        attribute = getattr(self._collection, name)
        if name not in WRITES:
            return attribute

        def recorded(*args, **kwargs):
            self._oplog.append(pickle.dumps((name, args, kwargs)))
            return attribute(*args, **kwargs)

        return recorded


class RecordedDatabase:
    """A mongomock database whose collections record their writes."""

    def __init__(self, db, oplog: list[bytes]):
        self._db, self._oplog, self.client = db, oplog, db.client

    def __getitem__(self, name: str) -> OplogRecorder:
        return OplogRecorder(self._db[name], self._oplog)


@pytest.fixture
def mongo(settings):
    oplog: list[bytes] = []
    db = mongomock.MongoClient()["dumpus"]
    vault = LinkVault(settings.link_key_dir, settings.server_secret())
    store = MongoStore(RecordedDatabase(db, oplog), links=vault)
    # GridFS takes a real database only: its writes (the app files) are in the dump of `db`.
    store.app_files = MongoAppFiles(db, db["packages"])
    store.ensure_indexes()
    return store, db, oplog


@pytest.fixture
def server(tmp_path):
    truth = generate_package(tmp_path / "p.zip", SampleSpec(layout="A", messages=600, seed=9))
    routes = {"/p.zip": body((tmp_path / "p.zip").read_bytes()), "/broken.zip": body(b"nope")}
    with ScriptedServer(routes) as srv:
        srv.truth = truth
        yield srv


def _submit(store, settings, origin: str, path: str) -> tuple[str, str]:
    link = f"{origin}{path}?k={secrets.token_urlsafe(20)}"
    package_id = parse_package_link(link, (origin,), settings.server_secret()).package_id
    store.packages.enqueue(package_id, store.links.seal(package_id, link), time.time())
    return package_id, link


def _dump(db, oplog: list[bytes], settings) -> list[tuple[str, bytes]]:
    documents = [
        (f"{name}/{doc['_id']}", bson.encode(doc))
        for name in db.list_collection_names()
        for doc in db[name].find()
    ]
    oplog_entries = [(f"oplog/{n}", entry) for n, entry in enumerate(oplog)]
    return documents + oplog_entries + list(forensics.files_under(settings.data_dir))


def test_a_mongodb_dump_gives_back_no_link_of_an_ended_package(mongo, settings, server):
    store, db, oplog = mongo
    settings = settings.with_overrides(whitelisted_origins=(server.origin,))
    processed = _submit(store, settings, server.origin, "/p.zip")
    failed = _submit(store, settings, server.origin, "/broken.zip")
    deleted = _submit(store, settings, server.origin, "/p.zip")
    live = _submit(store, settings, server.origin, "/p.zip")  # the control: still queued
    assert run_package(processed[0], settings, store).result == "PROCESSED"
    assert run_package(failed[0], settings, store).result == "ERRORED:INVALID_PACKAGE"
    assert run_package(deleted[0], settings, store).result == "PROCESSED"
    assert store.packages.delete(deleted[0])
    store.statistics.delete_package(deleted[0])

    blobs = _dump(db, oplog, settings)
    assert any(processed[0].encode() in data for name, data in blobs if name.startswith("oplog"))
    links = [processed, failed, deleted, live]
    tries = forensics.attempts(settings.server_secret(), [settings.data_dir], [i for i, _ in links])
    recovered = forensics.recover_links(blobs, tries, [len(link) for _, link in links])
    assert recovered == {live[1]}  # the live link comes back: the scan works
    needles = [link for _, link in links[:3]] + server.truth.secret_strings
    assert forensics.find_needles(blobs, [n for n in needles if len(n) >= 6]) == []
