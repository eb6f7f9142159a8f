"""`open_store`: the backend chosen from the settings, ready to use."""

from __future__ import annotations

import mongomock
import pymongo

from settings import Settings
from storage import EnqueueOutcome, open_store
from storage.mongo_backend import MongoStore
from storage.sqlite_backend import SQLiteStore


def test_sqlite_when_no_mongo_url(tmp_path):
    settings = Settings(data_dir=tmp_path / "nested" / "data")
    store = open_store(settings)
    assert isinstance(store, SQLiteStore)
    assert settings.sqlite_path.exists()
    assert store.packages.enqueue("p1", b"link", 1.0) is EnqueueOutcome.CREATED
    assert store.ping()
    assert store.links.key_dir == settings.data_dir / "keys"
    store.close()


def test_mongo_when_mongo_url(monkeypatch, tmp_path):
    made = {}

    def fake_client(url, **kwargs):
        made.update(kwargs, url=url)
        made["client"] = mongomock.MongoClient()
        return made["client"]

    monkeypatch.setattr(pymongo, "MongoClient", fake_client)
    settings = Settings(
        data_dir=tmp_path, mongo_url="mongodb://db:27017", mongo_db="stats", secret_key="s"
    )
    store = open_store(settings)
    assert isinstance(store, MongoStore)
    assert made["url"] == "mongodb://db:27017"
    assert (made["serverSelectionTimeoutMS"], made["connect"]) == (3000, False)
    index_names = made["client"]["stats"]["statistics"].index_information()
    assert any(info.get("unique") for info in index_names.values())
    assert store.packages.enqueue("p1", b"link", 1.0) is EnqueueOutcome.CREATED
    assert not settings.sqlite_path.exists()


def test_mongo_ping_is_false_when_unreachable():
    client = pymongo.MongoClient("mongodb://127.0.0.1:9", serverSelectionTimeoutMS=200)
    assert MongoStore(client, "x").ping() is False
    client.close()


def test_the_link_keys_live_where_link_key_dir_says(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", link_key_dir_setting=str(tmp_path / "vault"))
    store = open_store(settings)
    store.links.seal("d" * 32, "https://click.discord.com/ls/click?upn=" + "u" * 600)
    assert [p.name[:32] for p in (tmp_path / "vault").iterdir()] == ["d" * 32]
    assert not (settings.data_dir / "keys").exists()
    store.close()
