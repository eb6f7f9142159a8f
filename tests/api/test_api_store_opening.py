"""The API opens its store without waiting on MongoDB: indexes are ensured in the background,
so a request while the server is away waits only for its own bounded operation."""

from __future__ import annotations

import threading

from api.services import Services
from settings import Settings
from storage.mongo_backend import MongoStore
from tests.api.api_support import RecordingQueue


def test_mongodb_indexes_are_ensured_off_the_request_path(tmp_path, monkeypatch):
    release, ensured = threading.Event(), threading.Event()

    def blocked(store):
        release.wait(30)  # a server that does not answer
        ensured.set()

    monkeypatch.setattr(MongoStore, "ensure_indexes", blocked)
    settings = Settings(
        data_dir=tmp_path, secret_key="s", mongo_url="mongodb://127.0.0.1:1/dumpus_test"
    )
    store = Services(settings, RecordingQueue()).store()  # would hang here if ensured inline
    assert isinstance(store, MongoStore) and not ensured.is_set()
    release.set()
    assert ensured.wait(10)


def test_sqlite_tables_exist_before_the_first_request(tmp_path):
    store = Services(Settings(data_dir=tmp_path, secret_key="s"), RecordingQueue()).store()
    assert store.packages.get("0" * 32) is None  # the tables are there
