"""`open_store`: the backend chosen from the settings, ready to use."""

from __future__ import annotations

import mongomock
import pymongo
import pytest

from settings import InvalidSettings, Settings
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


@pytest.fixture
def made(monkeypatch):
    """What open_store passed to MongoClient, the client being mongomock's for that URL."""
    made: dict = {}

    def fake_client(url, **kwargs):
        made.update(kwargs, url=url)
        made["client"] = mongomock.MongoClient(url)
        return made["client"]

    monkeypatch.setattr(pymongo, "MongoClient", fake_client)
    return made


def _mongo_settings(tmp_path, url="mongodb://db:27017", **changes):
    return Settings(data_dir=tmp_path, mongo_url=url, secret_key="s", **changes)


def test_mongo_when_mongo_url(made, tmp_path):
    settings = _mongo_settings(tmp_path, mongo_db="stats")
    store = open_store(settings)
    assert isinstance(store, MongoStore)
    assert made["url"] == "mongodb://db:27017"
    index_names = made["client"]["stats"]["statistics"].index_information()
    assert any(info.get("unique") for info in index_names.values())
    assert store.packages.enqueue("p1", b"link", 1.0) is EnqueueOutcome.CREATED
    assert not settings.sqlite_path.exists()


def test_mongo_client_options_of_a_worker(made, tmp_path):
    open_store(_mongo_settings(tmp_path, mongo_connect_timeout=4.0))
    options = {k: v for k, v in made.items() if k not in ("url", "client")}
    assert options == {
        "w": "majority",
        "journal": True,
        "retryWrites": True,
        "retryReads": True,
        "serverSelectionTimeoutMS": 30_000,
        "connectTimeoutMS": 4_000,
        "appname": "dumpus-worker",
        "connect": False,
    }


def test_the_api_names_itself_and_gives_up_sooner(made, tmp_path):
    settings = _mongo_settings(tmp_path, mongo_api_server_selection_timeout=2.5)
    open_store(settings, role="api")
    assert (made["appname"], made["serverSelectionTimeoutMS"]) == ("dumpus-api", 2_500)


def test_the_database_named_in_the_url_wins_over_mongo_db(made, tmp_path):
    url = "mongodb://user:pw@db:27017/from_url?authSource=admin"
    store = open_store(_mongo_settings(tmp_path, url=url, mongo_db="from_setting"))
    store.packages.enqueue("p1", b"link", 1.0)
    assert made["client"]["from_url"]["packages"].count_documents({}) == 1
    assert "from_setting" not in made["client"].list_database_names()


def test_mongo_db_names_the_database_when_the_url_names_none(made, tmp_path):
    store = open_store(_mongo_settings(tmp_path, url="mongodb://db:27017/", mongo_db="stats"))
    store.packages.enqueue("p1", b"link", 1.0)
    assert made["client"]["stats"]["packages"].count_documents({}) == 1


def test_mongo_retries_follow_the_setting(made, tmp_path):
    store = open_store(_mongo_settings(tmp_path, mongo_retry_attempts=5))
    assert store.statistics.retry.attempts == 5


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


def test_the_store_settings_come_from_the_environment():
    settings = Settings.from_env(
        {
            "MONGO_SERVER_SELECTION_TIMEOUT": "45",
            "MONGO_API_SERVER_SELECTION_TIMEOUT": "2.5",
            "MONGO_CONNECT_TIMEOUT": "4",
            "MONGO_RETRY_ATTEMPTS": "5",
            "STORE_RETRY_AFTER": "9",
            "PACKAGE_RETENTION_DAYS": "0.5",
        }
    )
    assert settings.mongo_server_selection_timeout == 45.0
    assert settings.mongo_api_server_selection_timeout == 2.5
    assert settings.mongo_connect_timeout == 4.0
    assert (settings.mongo_retry_attempts, settings.store_retry_after) == (5, 9)
    assert settings.package_retention_days == 0.5


@pytest.mark.parametrize(
    ("name", "raw"),
    [("MONGO_RETRY_ATTEMPTS", "0"), ("STORE_RETRY_AFTER", "0"), ("PACKAGE_RETENTION_DAYS", "-3")],
)
def test_store_settings_below_their_floor_are_refused(name, raw):
    with pytest.raises(InvalidSettings, match=f"^invalid {name}="):
        Settings.from_env({name: raw})


@pytest.mark.parametrize(
    "name",
    [
        "MONGO_SERVER_SELECTION_TIMEOUT",
        "MONGO_API_SERVER_SELECTION_TIMEOUT",
        "MONGO_CONNECT_TIMEOUT",
    ],
)
def test_mongo_timeouts_must_be_positive(name):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: "0"})
