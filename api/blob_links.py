"""Signed, short-lived download URLs of app data files (the app fetches them with no header).

A URL names the package id, the file's generation and an expiry, signed with HMAC-SHA256 under
a key derived from the server secret. It carries nothing derived from the UPN beyond the package
id (md5 of it, which opens nothing), and the file it leads to is the ciphertext only. The
signature sits in the path, where the access log writes a placeholder (`<signature>`).
"""

from __future__ import annotations

import hmac
import re

from storage.crypto import derive_key

BLOB_URL_LABEL = b"dumpus-stats/v1/blob-url"
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class BlobLinks:
    """Makes and checks download signatures under the server secret."""

    def __init__(self, server_secret: bytes) -> None:
        self._key = derive_key(server_secret, b"", BLOB_URL_LABEL)

    def signature(self, package_id: str, generation: int, expires: int) -> str:
        """The hex signature of (package id, generation, expiry)."""
        message = f"{package_id}\x00{int(generation)}\x00{int(expires)}".encode()
        return hmac.digest(self._key, message, "sha256").hex()

    def is_valid(self, package_id: str, generation: int, expires: int, signature: str) -> bool:
        """Whether the signature is ours for these values (constant time; expiry not checked)."""
        if not _SIGNATURE.fullmatch(signature):
            return False
        expected = self.signature(package_id, generation, expires)
        return hmac.compare_digest(expected, signature)
