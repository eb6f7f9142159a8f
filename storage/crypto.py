"""Encryption at rest: package keys from the link's key material, sealed documents, sealed links.

- `package_id = md5(key material)`, kept for compatibility with Dumpus clients.
- The package key is HKDF-SHA256 over the key material (the UPN), salted with the server secret,
  with a versioned label. Without the UPN the server cannot derive it.
- Each statistics view is sealed with AES-256-GCM (random 96-bit nonce, package id and view name
  as associated data) and stored under an HMAC of its name, so ids do not show in a dump.
- The link is sealed with a key derived from the server secret alone, only while it is processed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zlib

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEAL_VERSION = b"\x01"
NONCE_BYTES = 12
PACKAGE_KEY_LABEL = b"dumpus-stats/v1/package-key"
VIEW_ID_LABEL = b"dumpus-stats/v1/view-id"
LINK_KEY_LABEL = b"dumpus-stats/v1/link-key"


class DecryptionError(Exception):
    """A wrong key or a tampered document: never garbage, always this."""


def package_id_for(key_material: str) -> str:
    """The package id: MD5 hex digest of the link's key material (the UPN)."""
    return hashlib.md5(key_material.encode(), usedforsecurity=False).hexdigest()


def owns_package(key_material: str, package_id: str) -> bool:
    """Constant-time check that the presented key material belongs to the package id."""
    expected = package_id_for(key_material).encode()
    return hmac.compare_digest(expected, package_id.lower().encode("utf-8", "replace"))


def _derive(secret: bytes, salt: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=label).derive(secret)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != SEAL_VERSION:
        raise DecryptionError("sealed document has an unknown format")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise DecryptionError("wrong key or tampered document") from exc


class PackageKey:
    """The key of one package's statistics, derived from its key material."""

    def __init__(self, package_id: str, key_material: str, server_secret: bytes):
        self.package_id = package_id
        material = key_material.encode()
        self._key = _derive(material, server_secret, PACKAGE_KEY_LABEL)
        self._view_key = _derive(material, server_secret, VIEW_ID_LABEL)

    def view_id(self, view_name: str) -> str:
        """The opaque storage key of a view (HMAC-SHA256 of its name, 32 hex chars)."""
        return hmac.new(self._view_key, view_name.encode(), hashlib.sha256).hexdigest()[:32]

    def _aad(self, view_name: str) -> bytes:
        return f"{self.package_id}\x00{view_name}".encode()

    def seal(self, view_name: str, document: dict) -> bytes:
        """JSON-encode, compress and encrypt one view."""
        plaintext = zlib.compress(orjson.dumps(document), 1)
        return _seal(self._key, plaintext, self._aad(view_name))

    def open(self, view_name: str, blob: bytes) -> dict:
        """Decrypt one view; raises DecryptionError on a wrong key or any tampering."""
        return orjson.loads(zlib.decompress(_open(self._key, blob, self._aad(view_name))))


class LinkSealer:
    """Seals a package link with the server secret for the time it is processed."""

    def __init__(self, server_secret: bytes):
        self._key = _derive(server_secret, b"", LINK_KEY_LABEL)

    def seal(self, package_id: str, link: str) -> bytes:
        """Encrypt the link, bound to its package id."""
        return _seal(self._key, link.encode(), package_id.encode())

    def open(self, package_id: str, blob: bytes) -> str:
        """Decrypt the link; raises DecryptionError when it was not sealed for this package."""
        return _open(self._key, blob, package_id.encode()).decode()
