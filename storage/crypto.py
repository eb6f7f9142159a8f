"""Encryption at rest: package keys from the link's key material, sealed documents, sealed links.

- A Discord package's id is `md5(UPN)`, kept for compatibility with Dumpus clients; the id of an
  allow-listed link (whose key material is the whole, possibly guessable, link) is an HMAC of it
  under the server secret, so it cannot be confirmed offline from logs, Flower or the store.
- The package key is HKDF-SHA256 over the key material (the UPN), salted with the server secret,
  with a versioned label. Without the UPN the server cannot derive it.
- Each statistics view is sealed with AES-256-GCM (random 96-bit nonce, package id and view name
  as associated data) and stored under an HMAC of its name, so ids do not show in a dump. Its
  JSON text is compressed first, except for the few views the API answers whole on every visit
  (`plain_view`), whose text is sealed as it is; the opener tells them apart by the first byte.
- Links are sealed by `storage.link_vault` under per-package keys destroyed when the package ends.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import string
import types
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
ALLOW_LISTED_ID_LABEL = b"dumpus-stats/v1/allow-listed-package-id"
MAX_VIEW_IDS = 64  # view ids a key remembers (a package has thousands of entity views)
UPN_BYTES = (string.ascii_letters + string.digits + "._-").encode()

_deflate: types.ModuleType
try:  # ISA-L writes the same zlib format; on views of a few KB it is 3 to 10 times zlib's speed
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - the locked dependencies install it
    _deflate = zlib
# How a view's JSON text is compressed before it is sealed: (function, level), the function a
# builtin of the compression library, so that another process given it by name (the activity
# process, `tasks.sealing`) needs neither this module nor a key to apply it.
VIEW_COMPRESSION = (_deflate.compress, 1)
# Views sealed without compression (`plain_view`): those the API answers whole
# (`api.read_path.WHOLE_VIEWS`), a few per package. Opening one is then a single AES-GCM
# decryption, which holds the GIL; zlib's inflate releases it, and in a threaded gunicorn worker
# each release wakes a thread waiting for it: under load that cost a read about three times the
# inflate itself (docs/performance.md, "API reads").
PLAIN_VIEWS = frozenset({"about", "overview"})
PLAIN_VIEW_PREFIX = "stats:"
# A plain view's text is a JSON object; a zlib stream starts with a CMF byte whose low four bits
# are 8 (deflate), never `{`.
_PLAIN_START = b"{"


def spelled_with(text: str, allowed: bytes) -> bool:
    """Whether `text` has one character or more, each one of the ASCII bytes `allowed` (a
    deletion by `bytes.translate`: a few times quicker than a regex on a 600-character UPN)."""
    return bool(text) and text.isascii() and not text.encode().translate(None, allowed)


class DecryptionError(Exception):
    """A wrong key or a tampered document: never garbage, always this."""


def package_id_for(key_material: str, server_secret: bytes = b"") -> str:
    """The package id: md5(UPN) for a Discord UPN, else HMAC-SHA256(secret, link)[:32 hex].

    A UPN is long and random, so its MD5 reveals nothing; an allow-listed link may be guessable
    (`.../exports/12345.zip`), so its id needs the server secret to be computed or confirmed.
    """
    if spelled_with(key_material, UPN_BYTES):
        return hashlib.md5(key_material.encode(), usedforsecurity=False).hexdigest()
    if not server_secret:
        raise ValueError("the id of an allow-listed link needs the server secret")
    digest = hmac.new(
        server_secret, ALLOW_LISTED_ID_LABEL + b"\x00" + key_material.encode(), "sha256"
    )
    return digest.hexdigest()[:32]


def owns_package(key_material: str, package_id: str, server_secret: bytes = b"") -> bool:
    """Constant-time check that the presented key material belongs to the package id."""
    try:
        expected = package_id_for(key_material, server_secret).encode()
    except ValueError:
        return False
    return hmac.compare_digest(expected, package_id.lower().encode("utf-8", "replace"))


def derive_key(secret: bytes, salt: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=label).derive(secret)


def hkdf_extract(secret: bytes, salt: bytes) -> bytes:
    """HKDF-Extract (RFC 5869) with SHA-256: the pseudorandom key every label expands from."""
    return hmac.digest(salt, secret, "sha256")


def hkdf_expand_32(prk: bytes, label: bytes) -> bytes:
    """HKDF-Expand (RFC 5869) with SHA-256 to 32 bytes (one block): `derive_key`'s output."""
    return hmac.digest(prk, label + b"\x01", "sha256")


def seal_bytes(key: bytes, plaintext: bytes, aad: bytes, aead: AESGCM | None = None) -> bytes:
    """AES-256-GCM under a fresh random nonce (`aead`: the key's cipher, when the caller keeps
    one)."""
    nonce = os.urandom(NONCE_BYTES)
    return SEAL_VERSION + nonce + (aead or AESGCM(key)).encrypt(nonce, plaintext, aad)


def open_bytes(key: bytes, blob: bytes, aad: bytes, aead: AESGCM | None = None) -> bytes:
    """Decrypt a `seal_bytes` blob (`aead`: the key's cipher, when the caller keeps one)."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != SEAL_VERSION:
        raise DecryptionError("sealed document has an unknown format")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return (aead or AESGCM(key)).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise DecryptionError("wrong key or tampered document") from exc


def plain_view(view_name: str) -> bool:
    """Whether the view is sealed without compression (`PLAIN_VIEWS`, `stats:<period>`)."""
    return view_name in PLAIN_VIEWS or view_name.startswith(PLAIN_VIEW_PREFIX)


class PackageKey:
    """The key of one package's statistics, derived from its key material."""

    def __init__(self, package_id: str, key_material: str, server_secret: bytes):
        self.package_id = package_id
        # Both keys are HKDF of the same secret and salt: one Extract, then one Expand per label
        # (the same bytes as two `derive_key` calls, for half the work on every API read).
        prk = hkdf_extract(key_material.encode(), server_secret)
        self._key = hkdf_expand_32(prk, PACKAGE_KEY_LABEL)
        self._view_key = hkdf_expand_32(prk, VIEW_ID_LABEL)
        self._aead = AESGCM(self._key)
        self._view_ids: dict[str, str] = {}  # a key kept by the API reads the same views again

    def view_id(self, view_name: str) -> str:
        """The opaque storage key of a view (HMAC-SHA256 of its name, 32 hex chars)."""
        found = self._view_ids.get(view_name)
        if found is None:
            found = hmac.digest(self._view_key, view_name.encode(), "sha256").hex()[:32]
            if len(self._view_ids) >= MAX_VIEW_IDS:
                self._view_ids.clear()
            self._view_ids[view_name] = found
        return found

    def _aad(self, view_name: str) -> bytes:
        return f"{self.package_id}\x00{view_name}".encode()

    def seal(self, view_name: str, document: dict) -> bytes:
        """JSON-encode, compress and encrypt one view."""
        return self.seal_json(view_name, orjson.dumps(document))

    def seal_json(self, view_name: str, text: bytes) -> bytes:
        """Compress and encrypt one view's JSON text (what `seal` does after encoding it); a
        `plain_view` whose text is a JSON object is not compressed."""
        if text[:1] == _PLAIN_START and plain_view(view_name):  # any other text stays readable
            return seal_bytes(self._key, text, self._aad(view_name), self._aead)
        compress, level = VIEW_COMPRESSION
        return self.seal_compressed(view_name, compress(text, level))

    def seal_compressed(self, view_name: str, compressed: bytes) -> bytes:
        """Encrypt one view's JSON text compressed as `VIEW_COMPRESSION` does (elsewhere)."""
        return seal_bytes(self._key, compressed, self._aad(view_name), self._aead)

    def open_json(self, view_name: str, blob: bytes) -> bytes:
        """Decrypt one view to its JSON text (what `seal` encoded); DecryptionError as `open`."""
        text = open_bytes(self._key, blob, self._aad(view_name), self._aead)
        return text if text[:1] == _PLAIN_START else zlib.decompress(text)

    def open(self, view_name: str, blob: bytes) -> dict:
        """Decrypt one view; raises DecryptionError on a wrong key or any tampering."""
        return orjson.loads(self.open_json(view_name, blob))
