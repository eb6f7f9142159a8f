"""Shoppers' personal information, kept apart from their activity (the contract every backend
provides; the store-statistics routes build on it: docs/shoppers.md).

A store's shoppers are reached by their UUID everywhere else: events and statistics carry only
that id. Their personal fields (e-mail, username, first and last name, phone) live here, in a
store of their own (`pii.sqlite3` under DATA_DIR, or the MongoDB database of `PII_MONGO_URL`),
sealed with AES-256-GCM under a key derived from the server secret, the row's store and
shopper ids bound to the ciphertext (a blob moved to another row does not open). A shopper is
looked up by e-mail through a keyed hash (HMAC-SHA256 of the store id and the address, under
another key derived from the secret), never the address itself: a copy of this store without
the secret shows no e-mail, name or phone, and cannot be searched for a known address.

E-mail addresses are compared trimmed and lower-cased (what the hash is made of); the address
is kept as given.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Protocol

import orjson

from storage.crypto import (
    DecryptionError,
    hkdf_expand_32,
    hkdf_extract,
    open_bytes,
    seal_bytes,
)

SALT = b"dumpus-shoppers-v1"
FIELDS_LABEL = b"shopper-fields"
EMAIL_INDEX_LABEL = b"shopper-email-index"


class DuplicateShopper(Exception):
    """The store already has a shopper with this e-mail address."""


@dataclass(frozen=True)
class ShopperFields:
    """A shopper's personal information, as a store posts it."""

    email: str
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Shopper:
    id: str
    store_id: str
    fields: ShopperFields
    created_at: float


FIELD_NAMES = tuple(field.name for field in fields(ShopperFields))


class ShopperCipher:
    """The two keys of the vault, derived once from the server secret."""

    def __init__(self, server_secret: bytes) -> None:
        prk = hkdf_extract(server_secret, SALT)
        self._fields_key = hkdf_expand_32(prk, FIELDS_LABEL)
        self._index_key = hkdf_expand_32(prk, EMAIL_INDEX_LABEL)

    def email_hash(self, store_id: str, email: str) -> str:
        """What a shopper is found by: the store and the trimmed, lower-cased address, keyed."""
        message = f"{store_id}\x00{email.strip().lower()}".encode()
        return hmac.digest(self._index_key, message, "sha256").hex()

    def seal(self, store_id: str, shopper_id: str, shopper_fields: ShopperFields) -> bytes:
        plaintext = orjson.dumps(asdict(shopper_fields))
        return seal_bytes(self._fields_key, plaintext, _aad(store_id, shopper_id))

    def open(self, store_id: str, shopper_id: str, blob: bytes) -> ShopperFields:
        """The fields; DecryptionError for another secret, another row's blob or any tampering."""
        plaintext = open_bytes(self._fields_key, blob, _aad(store_id, shopper_id))
        try:
            return ShopperFields(**orjson.loads(plaintext))
        except (TypeError, orjson.JSONDecodeError) as exc:
            raise DecryptionError("sealed shopper fields have an unknown shape") from exc


def _aad(store_id: str, shopper_id: str) -> bytes:
    return f"{store_id}\x00{shopper_id}".encode()


def new_shopper_id() -> str:
    return str(uuid.uuid4())


class ShopperVault(Protocol):
    def create(self, store_id: str, shopper_fields: ShopperFields, now: float) -> Shopper:
        """A new shopper; DuplicateShopper when the store has this e-mail already."""

    def get(self, store_id: str, shopper_id: str) -> Shopper | None:
        """The store's shopper with this id, or None (another store's shoppers are not found)."""

    def find_by_email(self, store_id: str, email: str) -> Shopper | None:
        """The store's shopper with this e-mail address (trimmed, any case), or None."""

    def update(self, store_id: str, shopper_id: str, changes: dict[str, str]) -> Shopper | None:
        """The shopper with `changes` (field name -> new value) applied, or None when unknown;
        DuplicateShopper when the new e-mail belongs to another shopper of the store."""

    def known_ids(self, store_id: str, shopper_ids: list[str]) -> set[str]:
        """Which of these ids are shoppers of the store."""

    def delete(self, store_id: str, shopper_id: str) -> bool:
        """Remove the shopper (its sealed row goes, zeroed on disk where the backend can)."""

    def delete_store(self, store_id: str) -> int:
        """Remove every shopper of the store; how many."""

    def count(self, store_id: str) -> int:
        """How many shoppers the store has."""

    def ensure_indexes(self) -> None:
        """Create tables / indexes (idempotent)."""

    def close(self) -> None:
        """Release the connection."""


def changed(shopper_fields: ShopperFields, changes: dict[str, str]) -> ShopperFields:
    """The fields with `changes` applied; ValueError naming an unknown field."""
    unknown = set(changes) - set(FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown shopper fields: {', '.join(sorted(unknown))}")
    return ShopperFields(**{**asdict(shopper_fields), **changes})
