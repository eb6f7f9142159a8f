"""The bytes of project files' versions (issue 15), on the local filesystem under `DATA_DIR`.

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

from storage.crypto import derive_key
from storage.key_files import destroy_key_file, write_key_file
from storage.uploads import Incoming, opened_chunks, sealed_file

LOCAL_KIND = "local"
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
