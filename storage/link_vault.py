"""Package links sealed under per-package keys that are destroyed when the package ends.

A link is the only key to a package, and the server must hold it from the POST until a worker has
downloaded the package. It is sealed (AES-256-GCM) under a key derived from two halves:
- a random 256-bit key written to its own file, `<LINK_KEY_DIR>/<package id>.<key id>`, and
- the server secret.
The sealed blob lives in the package document; the key file lives apart from every document, so
no database page, WAL frame, oplog entry or backup of the store holds it. When the package ends
(processed, failed, deleted) the key file is overwritten and unlinked: from then on the sealed
link is noise to anyone, the operator with the server secret included (crypto-shredding).
A direct upload's file (`storage.uploads`, encrypted under a key of the sealed key material) is
removed at the same moment.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from storage.crypto import DecryptionError, derive_key, open_bytes, seal_bytes
from storage.key_files import destroy_key_file, write_key_file
from storage.uploads import UploadFiles

VAULT_VERSION = b"\x02"
KEY_ID_BYTES = 8
KEY_BYTES = 32
LINK_KEY_LABEL = b"dumpus-stats/v2/link-key"
_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
_KEY_FILE = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{16})")


class LinkVault:
    """Seals links under per-package key files in one directory, and destroys those keys; and
    holds the direct uploads waiting for their worker (`storage.uploads`), removed with them."""

    def __init__(self, key_dir: Path, server_secret: bytes, uploads: UploadFiles | None = None):
        self.key_dir = Path(key_dir)
        self._secret = server_secret
        self.uploads = uploads or UploadFiles(self.key_dir.parent / "uploads")

    def seal(self, package_id: str, link: str) -> bytes:
        """Seal `link` under a new key of the package (its file is written and synced first)."""
        key_id = secrets.token_bytes(KEY_ID_BYTES)
        file_key = secrets.token_bytes(KEY_BYTES)
        write_key_file(self._path(package_id, key_id), file_key)
        sealed = seal_bytes(self._key(file_key), link.encode(), package_id.encode())
        return VAULT_VERSION + key_id + sealed

    def open(self, package_id: str, sealed: bytes) -> str:
        """The link; DecryptionError when its key is destroyed or the blob is another package's."""
        key_id = self._key_id(sealed)
        try:
            file_key = self._path(package_id, key_id).read_bytes()
        except (FileNotFoundError, ValueError):
            raise DecryptionError("the link's key was destroyed") from None
        body = sealed[1 + KEY_ID_BYTES :]
        return open_bytes(self._key(file_key), body, package_id.encode()).decode()

    def discard(self, package_id: str, sealed: bytes) -> None:
        """Destroy the one key `sealed` was made with (a link sealed but never stored)."""
        with contextlib.suppress(DecryptionError, ValueError):
            destroy_key_file(self._path(package_id, self._key_id(sealed)))

    def shred(self, package_id: str) -> int:
        """Destroy every key of the package, and remove its upload if it has one; returns how
        many key files were destroyed."""
        if not _PACKAGE_ID.fullmatch(package_id):
            return 0
        paths = list(self.key_dir.glob(f"{package_id}.*"))
        for path in paths:
            destroy_key_file(path)
        self.uploads.remove(package_id)
        return len(paths)

    def sweep(self, is_live: Callable[[str], bool], older_than: float) -> int:
        """Destroy keys of packages that are not live, left by a process that died mid-change.

        Only keys older than `older_than` (epoch seconds) are considered: a key is written just
        before its package document, so a younger one may belong to a POST in progress.
        """
        destroyed = 0
        for path, package_id in self._key_files():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < older_than and not is_live(package_id):
                    destroy_key_file(path)
                    destroyed += 1
        return destroyed

    def _key_files(self) -> Iterator[tuple[Path, str]]:
        if not self.key_dir.is_dir():
            return
        for path in self.key_dir.iterdir():
            match = _KEY_FILE.fullmatch(path.name)
            if match:
                yield path, match.group(1)

    def _key(self, file_key: bytes) -> bytes:
        return derive_key(file_key, self._secret, LINK_KEY_LABEL)

    def _path(self, package_id: str, key_id: bytes) -> Path:
        if not _PACKAGE_ID.fullmatch(package_id):
            raise ValueError("not a package id")
        return self.key_dir / f"{package_id}.{key_id.hex()}"

    @staticmethod
    def _key_id(sealed: bytes) -> bytes:
        if len(sealed) < 1 + KEY_ID_BYTES or sealed[:1] != VAULT_VERSION:
            raise DecryptionError("sealed link has an unknown format")
        return sealed[1 : 1 + KEY_ID_BYTES]
