"""Which package a direct upload made, found by its content: the same bytes uploaded again by the
same account are not processed twice.

A digest is an HMAC under the server secret of the account and the upload's SHA-256
(`upload_digest`): a copy of the store cannot tell what was uploaded, nor confirm a guess
without the server secret and the very bytes. A digest goes with its package when the package
is deleted (`storage.shredding.ShreddingPackages`): nothing then links those bytes to anything.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from storage.sqlite_connection import Connections

UPLOAD_DIGEST_LABEL = b"dumpus-stats/v1/upload-digest"
SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_digests (
    digest TEXT PRIMARY KEY,
    package_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_digests_package_id ON upload_digests (package_id);
"""


def upload_digest(server_secret: bytes, account_id: str, sha256: bytes) -> str:
    """The digest of an account's upload with this SHA-256."""
    message = UPLOAD_DIGEST_LABEL + b"\x00" + account_id.encode() + b"\x00" + sha256
    return hmac.new(server_secret, message, "sha256").hexdigest()


class UploadDigests(Protocol):
    def package_of(self, digest: str) -> str | None:
        """The package the digest's upload made, or None."""

    def remember(self, digest: str, package_id: str, at: float) -> None:
        """The digest's upload made this package (replacing an earlier one of the digest)."""

    def forget_package(self, package_id: str) -> None:
        """Forget every digest of the package (it is deleted)."""


class SQLiteUploadDigests:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA)

    def package_of(self, digest: str) -> str | None:
        row = (
            self._db.get()
            .execute("SELECT package_id FROM upload_digests WHERE digest = ?", (digest,))
            .fetchone()
        )
        return row[0] if row else None

    def remember(self, digest: str, package_id: str, at: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO upload_digests (digest, package_id, at) VALUES (?, ?, ?) "
                "ON CONFLICT (digest) DO UPDATE SET package_id = excluded.package_id, "
                "at = excluded.at",
                (digest, package_id, at),
            )

    def forget_package(self, package_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM upload_digests WHERE package_id = ?", (package_id,))
