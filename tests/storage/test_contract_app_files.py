"""The storage contract of the app data files: every backend (the `store` fixture: SQLite with
files under a folder, MongoDB through GridFS) must pass it."""

from __future__ import annotations

import os

import pytest

from storage.base import AppFileRecord
from tests.storage.contract_support import LINK, NOW

P1, P2 = "a" * 32, "b" * 32
IV = "00112233445566778899aabbccddeeff"


def read(store, package_id: str, generation: int) -> bytes | None:
    stream = store.app_files.open(package_id, generation)
    if stream is None:
        return None
    with stream:
        return stream.read()


def test_a_file_comes_back_whole_with_its_iv(store):
    blob = os.urandom(1000)
    record = store.app_files.put(P1, 7, IV, blob)
    assert record == AppFileRecord(P1, 7, IV, 1000, None)
    assert store.app_files.get(P1, 7) == record
    assert read(store, P1, 7) == blob


def test_a_file_larger_than_a_mongodb_document_is_stored(store):
    blob = os.urandom(17 * 1024 * 1024)  # over the 16 MB document cap
    store.app_files.put(P1, 1, IV, blob)
    assert store.app_files.get(P1, 1).size == len(blob)
    assert read(store, P1, 1) == blob


def test_a_second_put_of_a_generation_replaces_the_first(store):
    store.app_files.put(P1, 1, IV, b"first")
    store.app_files.put(P1, 1, "ff" * 16, b"second!")
    assert store.app_files.get(P1, 1) == AppFileRecord(P1, 1, "ff" * 16, 7, None)
    assert read(store, P1, 1) == b"second!"


def test_a_generation_without_a_file_says_why(store):
    store.app_files.put_unavailable(P1, 3, "MISSING_USER_DATA")
    assert store.app_files.get(P1, 3) == AppFileRecord(P1, 3, None, 0, "MISSING_USER_DATA")
    assert store.app_files.open(P1, 3) is None


def test_unknown_generations_and_packages_have_nothing(store):
    store.app_files.put(P1, 1, IV, b"x")
    assert store.app_files.get(P1, 2) is None and store.app_files.open(P1, 2) is None
    assert store.app_files.get(P2, 1) is None and store.app_files.open(P2, 1) is None
    assert store.app_files.get("not-a-package", 1) is None


def test_only_package_ids_name_files(store):
    for bad in ("../../etc/passwd", "A" * 32, "a" * 31):
        with pytest.raises(ValueError):
            store.app_files.put(bad, 1, IV, b"x")
        with pytest.raises(ValueError):
            store.app_files.put_unavailable(bad, 1, "MISSING_USER_DATA")


def test_delete_package_keeps_only_the_published_generation(store):
    store.app_files.put(P1, 1, IV, b"old")
    store.app_files.put(P1, 2, IV, b"new")
    store.app_files.put_unavailable(P1, 3, "MISSING_USER_DATA")
    store.app_files.put(P2, 1, IV, b"other package")
    assert store.app_files.delete_package(P1, keep_generation=2) == 2
    assert read(store, P1, 2) == b"new"
    assert store.app_files.get(P1, 1) is None and store.app_files.get(P1, 3) is None
    assert store.app_files.delete_package(P1) == 1
    assert store.app_files.get(P1, 2) is None and store.app_files.open(P1, 2) is None
    assert read(store, P2, 1) == b"other package"


def test_delete_generation_removes_exactly_one(store):
    store.app_files.put(P1, 1, IV, b"one")
    store.app_files.put(P1, 2, IV, b"two")
    assert store.app_files.delete_generation(P1, 1) == 1
    assert store.app_files.delete_generation(P1, 1) == 0
    assert store.app_files.get(P1, 1) is None and read(store, P1, 2) == b"two"


def test_purge_removes_the_files_of_packages_without_a_document(store):
    store.packages.enqueue(P1, LINK, NOW)
    store.app_files.put(P1, 1, IV, b"kept")
    store.app_files.put(P2, 1, IV, b"orphan")
    store.app_files.put_unavailable(P2, 2, "MISSING_USER_DATA")
    assert store.app_files.orphan_package_ids() == [P2]
    assert store.app_files.purge_orphans() == 2
    assert store.app_files.orphan_package_ids() == []
    assert store.app_files.get(P2, 1) is None and store.app_files.open(P2, 1) is None
    assert read(store, P1, 1) == b"kept"
    assert store.app_files.purge_orphans() == 0


def test_a_deleted_package_leaves_orphans_the_purge_finds(store):
    store.packages.enqueue(P1, LINK, NOW)
    store.app_files.put(P1, 5, IV, b"written by a run racing a DELETE")
    assert store.packages.delete(P1)
    assert store.app_files.orphan_package_ids() == [P1]
    assert store.app_files.purge_orphans() == 1
    assert store.app_files.open(P1, 5) is None
