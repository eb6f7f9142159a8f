"""`storage.file_bytes`: a project file version's bytes are kept sealed under a key of their
own, read back whole, and after a purge neither they nor their key are left."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from storage.crypto import DecryptionError
from storage.file_bytes import GridFSFileBytes, LocalFileBytes
from storage.uploads import CHUNK_BYTES
from tests.support.mongomock_compat import let_gridfs_take_mongomock

SECRET = b"file-bytes-secret"


@pytest.fixture
def mongo_database():
    import mongomock

    let_gridfs_take_mongomock()
    return mongomock.MongoClient()[f"files_{uuid.uuid4().hex}"]


def store_version(files, data: bytes, keep: bool = True) -> str:
    version_id = str(uuid.uuid4())
    with files.receiving(version_id, max_bytes=len(data) + 1) as incoming:
        for start in range(0, len(data), 300_000):
            incoming.write(data[start : start + 300_000])
        incoming.finish()
        assert incoming.sha256 == hashlib.sha256(data).digest()
        if keep:
            incoming.keep()
    return version_id


def every_file(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_version_is_kept_sealed_and_read_back_whole(tmp_path):
    files = LocalFileBytes(tmp_path, SECRET)
    data = b"MARKER-" * 1000 + os.urandom(2 * CHUNK_BYTES)
    version_id = store_version(files, data)
    assert b"".join(files.chunks(version_id)) == data
    assert every_file(tmp_path) == [f"{version_id}.bin", f"keys/{version_id}"]
    assert b"MARKER-" not in (tmp_path / f"{version_id}.bin").read_bytes()


def test_a_version_not_kept_leaves_neither_bytes_nor_key(tmp_path):
    files = LocalFileBytes(tmp_path, SECRET)
    store_version(files, b"abc" * 1000, keep=False)
    with pytest.raises(RuntimeError), files.receiving(str(uuid.uuid4()), 10**6) as incoming:
        incoming.write(b"half of it")
        raise RuntimeError("the client went away")
    assert every_file(tmp_path) == []


def test_a_purged_version_leaves_nothing_and_a_copy_of_its_bytes_is_noise(tmp_path):
    files = LocalFileBytes(tmp_path, SECRET)
    version_id = store_version(files, os.urandom(5000))
    copy = (tmp_path / f"{version_id}.bin").read_bytes()
    files.remove(version_id)
    assert every_file(tmp_path) == []
    (tmp_path / f"{version_id}.bin").write_bytes(copy)  # a backup of the disk put back
    with pytest.raises(FileNotFoundError):  # its key is gone with the purge
        b"".join(files.chunks(version_id))
    files.remove(version_id)  # twice: nothing to do


def test_another_servers_secret_does_not_open_a_version(tmp_path):
    version_id = store_version(LocalFileBytes(tmp_path, SECRET), os.urandom(5000))
    with pytest.raises(DecryptionError):
        b"".join(LocalFileBytes(tmp_path, b"another secret").chunks(version_id))


def test_a_path_is_never_made_from_anything_but_a_version_id(tmp_path):
    files = LocalFileBytes(tmp_path, SECRET)
    with pytest.raises(ValueError):
        files.remove("../keys/x")


def test_gridfs_keeps_a_version_sealed_reads_it_whole_and_purges_it(mongo_database):
    files = GridFSFileBytes(mongo_database, SECRET)
    data = b"MARKER-" * 1000 + os.urandom(2 * CHUNK_BYTES + 5)
    version_id = store_version(files, data)
    assert b"".join(files.chunks(version_id)) == data
    stored = b"".join(bytes(c["data"]) for c in mongo_database["project_files.chunks"].find())
    assert b"MARKER-" not in stored and len(stored) > len(data)
    assert mongo_database["project_files_keys"].count_documents({}) == 1
    files.remove(version_id)
    assert mongo_database["project_files.chunks"].count_documents({}) == 0
    assert mongo_database["project_files_keys"].count_documents({}) == 0
    with pytest.raises(FileNotFoundError):
        b"".join(files.chunks(version_id))


def test_gridfs_keeps_nothing_of_a_version_not_kept(mongo_database):
    files = GridFSFileBytes(mongo_database, SECRET)
    store_version(files, os.urandom(3000), keep=False)
    assert mongo_database["project_files.files"].count_documents({}) == 0
    assert mongo_database["project_files.chunks"].count_documents({}) == 0
    assert mongo_database["project_files_keys"].count_documents({}) == 0
