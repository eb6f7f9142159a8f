"""What each backend does with app data files beyond the contract: the SQLite backend's folder
(modes, atomic writes, stray files) and MongoDB's GridFS chunks (on mongomock)."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime, timedelta

import mongomock
import pytest
from bson import ObjectId

from storage.mongo_app_files import WRITER_GRACE_SECONDS
from storage.mongo_backend import MongoStore
from storage.sqlite_app_files import TEMP_GRACE_SECONDS
from storage.sqlite_backend import SQLiteStore

P1, P2 = "a" * 32, "b" * 32
IV = "00" * 16
NOW = 1_700_000_000.0


@pytest.fixture
def sqlite_store(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite3", app_files_dir=tmp_path / "appfiles")
    store.ensure_indexes()
    yield store
    store.close()


@pytest.fixture
def mongo_store():
    store = MongoStore(mongomock.MongoClient(), "test_app_files")
    store.ensure_indexes()
    return store


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_private_and_written_whole(sqlite_store, tmp_path):
    sqlite_store.app_files.put(P1, 12, IV, b"ciphertext")
    folder = tmp_path / "appfiles"
    assert mode(folder) == 0o700
    assert [p.name for p in folder.iterdir()] == [f"{P1}.12.bin"]  # no temporary file left
    assert mode(folder / f"{P1}.12.bin") == 0o600
    assert (folder / f"{P1}.12.bin").read_bytes() == b"ciphertext"


def test_sqlite_delete_removes_the_file_from_disk(sqlite_store, tmp_path):
    sqlite_store.app_files.put(P1, 1, IV, b"x")
    sqlite_store.app_files.delete_package(P1)
    assert list((tmp_path / "appfiles").iterdir()) == []


def test_sqlite_a_record_whose_file_is_gone_opens_nothing(sqlite_store, tmp_path):
    sqlite_store.app_files.put(P1, 1, IV, b"x")
    (tmp_path / "appfiles" / f"{P1}.1.bin").unlink()
    assert sqlite_store.app_files.open(P1, 1) is None


def test_sqlite_purge_removes_stray_files_and_dead_writers_temporaries(sqlite_store, tmp_path):
    sqlite_store.packages.enqueue(P1, b"link", NOW)
    sqlite_store.app_files.put(P1, 1, IV, b"named")
    folder = tmp_path / "appfiles"
    stray = folder / f"{P2}.4.bin"  # its record was removed, then the process died
    stray.write_bytes(b"x")
    old_temp, young_temp = folder / f".tmp-{P2}.5.bin.01", folder / f".tmp-{P2}.6.bin.02"
    old_temp.write_bytes(b"x")
    young_temp.write_bytes(b"x")
    old = time.time() - TEMP_GRACE_SECONDS - 10
    os.utime(old_temp, (old, old))
    assert sqlite_store.app_files.purge_orphans() == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted([young_temp.name, f"{P1}.1.bin"])


def test_mongo_a_file_is_chunked(mongo_store):
    mongo_store.app_files.put(P1, 1, IV, os.urandom(600 * 1024))
    chunks = mongo_store._db["app_files.chunks"]
    assert chunks.count_documents({"files_id": f"{P1}:1"}) == 3  # 255 KiB chunks


def test_mongo_purge_removes_old_chunks_without_a_file_only(mongo_store):
    chunks = mongo_store._db["app_files.chunks"]
    old = datetime.now(UTC) - timedelta(seconds=WRITER_GRACE_SECONDS + 60)
    chunks.insert_one({"_id": ObjectId.from_datetime(old), "files_id": "dead", "n": 0})
    chunks.insert_one({"_id": ObjectId(), "files_id": "writing", "n": 0})
    mongo_store.app_files.put(P1, 1, IV, b"kept")
    mongo_store.packages.enqueue(P1, b"link", NOW)
    mongo_store.app_files.purge_orphans()
    assert sorted(chunks.distinct("files_id")) == sorted([f"{P1}:1", "writing"])


def test_mongo_purge_rechecks_each_package_before_deleting(mongo_store, monkeypatch):
    mongo_store.packages.enqueue(P1, b"link", NOW)  # enqueued after the orphan lookup
    mongo_store.app_files.put(P1, 1, IV, b"a")
    mongo_store.app_files.put(P2, 1, IV, b"b")
    monkeypatch.setattr(mongo_store.app_files, "orphan_package_ids", lambda limit: [P2, P1])
    assert mongo_store.app_files.purge_orphans() == 1
    assert mongo_store.app_files.get(P1, 1) is not None and mongo_store.app_files.get(P2, 1) is None


def test_mongo_files_are_indexed_by_package(mongo_store):
    keys = [i["key"] for i in mongo_store._db["app_files.files"].index_information().values()]
    assert [("metadata.package_id", 1)] in keys
