"""The bytes of project files' versions (issue 15): on the local filesystem under `DATA_DIR`, or
in MongoDB's GridFS when MongoDB is the store.

Each version is written as it streams in, sealed in chunks (the format of `storage.uploads`)
under a random key of its own, kept in a key file apart from the bytes and from every database.
Purging a version destroys its key (overwritten, unlinked) and removes its bytes: a copy of the
disk taken before, or blocks the filesystem did not reuse yet, are noise from then on.

Layout: `<directory>/<version id>.bin` (the sealed bytes), `<directory>/keys/<version id>` (its
key), `<version id>.part` while one is received (locked by its writer).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gridfs

from storage.crypto import derive_key
from storage.key_files import destroy_key_file, write_key_file
from storage.projects import FileVersion, ProjectStore
from storage.uploads import Incoming, opened_chunks, sealed_chunks, sealed_file

LOCAL_KIND = "local"
GRIDFS_KIND = "gridfs"
GRIDFS_BUCKET = "project_files"
VERSION_KEY_LABEL = b"dumpus-stats/v1/project-file-version"
KEY_BYTES = 32
_VERSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class LocalFileBytes:
    """Versions' bytes in one directory, each sealed under its own key file."""

    kind = LOCAL_KIND

    def __init__(self, directory: Path, server_secret: bytes) -> None:
        self.directory = Path(directory)
        self._secret = server_secret

    @contextlib.contextmanager
    def receiving(self, version_id: str, max_bytes: int) -> Iterator[Incoming]:
        """A new version's bytes: kept when `keep()` was called in the block (after `finish()`),
        else, and whatever the block raises, gone with their key."""
        file_key = secrets.token_bytes(KEY_BYTES)
        write_key_file(self._key_path(version_id), file_key)
        kept = False
        try:
            with sealed_file(
                self.directory / f"{version_id}.part",
                self._path(version_id),
                self._key(file_key),
                max_bytes,
            ) as incoming:
                yield incoming
                kept = incoming.kept
        finally:
            if not kept:
                destroy_key_file(self._key_path(version_id))

    def chunks(self, version_id: str) -> Iterator[bytes]:
        """The version's plaintext, a chunk at a time; FileNotFoundError when it has none,
        DecryptionError when it does not open whole."""
        file_key = self._key_path(version_id).read_bytes()
        for plaintext, _read in opened_chunks(self._path(version_id), self._key(file_key)):
            yield plaintext

    def remove(self, version_id: str) -> None:
        """Destroy the version's key, then remove its bytes (either may be gone already)."""
        destroy_key_file(self._key_path(version_id))
        with contextlib.suppress(FileNotFoundError):
            self._path(version_id).unlink()

    def _key(self, file_key: bytes) -> bytes:
        return derive_key(file_key, self._secret, VERSION_KEY_LABEL)

    def _path(self, version_id: str) -> Path:
        return self.directory / f"{_checked(version_id)}.bin"

    def _key_path(self, version_id: str) -> Path:
        return self.directory / "keys" / _checked(version_id)


def _checked(version_id: str) -> str:
    if not _VERSION_ID.fullmatch(version_id):
        raise ValueError("not a version id")
    return version_id


class GridFSFileBytes:
    """Versions' bytes in a GridFS bucket of the MongoDB store (`project_files`), sealed the
    same way, each version's key a document of `project_file_keys` (deleted at the purge)."""

    kind = GRIDFS_KIND

    def __init__(self, database: Any, server_secret: bytes) -> None:
        self._database, self._secret = database, server_secret
        self._keys = database[f"{GRIDFS_BUCKET}_keys"]
        self._gridfs: gridfs.GridFS | None = None

    @property
    def _fs(self) -> gridfs.GridFS:
        if self._gridfs is None:  # made on first use: opening a store sends nothing
            self._gridfs = gridfs.GridFS(self._database, collection=GRIDFS_BUCKET)
        return self._gridfs

    @contextlib.contextmanager
    def receiving(self, version_id: str, max_bytes: int) -> Iterator[Incoming]:
        """As `LocalFileBytes.receiving`: kept only when `keep()` was called in the block."""
        file_key = secrets.token_bytes(KEY_BYTES)
        self._keys.insert_one({"_id": _checked(version_id), "key": file_key})
        stream = self._fs.new_file(_id=version_id, filename=version_id)
        kept, incoming = False, None
        try:
            incoming = Incoming(stream, self._key(file_key), max_bytes)
            yield incoming
            kept = incoming.kept
            if kept:
                stream.close()  # the file document written: the chunks are now one file
        finally:
            if incoming is not None:
                incoming.close()
            if not kept:
                stream.abort()
                self._keys.delete_one({"_id": version_id})

    def chunks(self, version_id: str) -> Iterator[bytes]:
        found = self._keys.find_one({"_id": _checked(version_id)})
        if found is None:
            raise FileNotFoundError(version_id)
        try:
            source = self._fs.get(version_id)
        except gridfs.NoFile:
            raise FileNotFoundError(version_id) from None
        for plaintext, _read in sealed_chunks(source, self._key(bytes(found["key"]))):
            yield plaintext

    def remove(self, version_id: str) -> None:
        self._keys.delete_one({"_id": _checked(version_id)})
        self._fs.delete(version_id)

    def _key(self, file_key: bytes) -> bytes:
        return derive_key(file_key, self._secret, VERSION_KEY_LABEL)


class ProjectFileBytes:
    """The bytes store of each provider kind: the local one under `directory`, GridFS when
    MongoDB is the store (`database`)."""

    def __init__(self, directory: Path, server_secret: bytes, database: Any = None) -> None:
        self.local = LocalFileBytes(directory, server_secret)
        self.gridfs = None if database is None else GridFSFileBytes(database, server_secret)

    def of(self, provider_kind: str) -> LocalFileBytes | GridFSFileBytes:
        if provider_kind == LOCAL_KIND:
            return self.local
        if provider_kind == GRIDFS_KIND and self.gridfs is not None:
            return self.gridfs
        raise ValueError(f"no bytes store for provider kind {provider_kind!r}")


def purge_file(projects: ProjectStore, file_bytes: ProjectFileBytes, file_id: str) -> int:
    """A trashed file's records removed, then every version's key and bytes; how many versions
    went (0 for a file that is unknown or not in the trash)."""
    versions = projects.purge_file(file_id)
    remove_bytes(projects, file_bytes, versions)
    return len(versions)


def remove_bytes(
    projects: ProjectStore, file_bytes: ProjectFileBytes, versions: list[FileVersion]
) -> None:
    """Each version's key and bytes removed from its provider's store (the local one for a
    provider since gone)."""
    kinds = {provider.id: provider.kind for provider in projects.providers()}
    for version in versions:
        file_bytes.of(kinds.get(version.provider_id, LOCAL_KIND)).remove(version.id)
