"""The shopper vault on MongoDB: a database of its own (`PII_MONGO_URL`), apart from the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.shoppers import (
    DuplicateShopper,
    Shopper,
    ShopperCipher,
    ShopperFields,
    changed,
    new_shopper_id,
)


class MongoShopperVault:
    def __init__(
        self, db: Database, cipher: ShopperCipher, close: Callable[[], None] | None = None
    ):
        self._shoppers = db["shoppers"]
        self._cipher = cipher
        self._close = close

    def ensure_indexes(self) -> None:
        self._shoppers.create_index(
            [("store_id", ASCENDING), ("email_hash", ASCENDING)], unique=True
        )

    def create(self, store_id: str, shopper_fields: ShopperFields, now: float) -> Shopper:
        shopper = Shopper(new_shopper_id(), store_id, shopper_fields, now)
        try:
            self._shoppers.insert_one({**self._sealed(shopper), "created_at": now})
        except DuplicateKeyError as exc:
            raise DuplicateShopper(store_id) from exc
        return shopper

    def get(self, store_id: str, shopper_id: str) -> Shopper | None:
        return self._shopper(self._shoppers.find_one({"_id": shopper_id, "store_id": store_id}))

    def find_by_email(self, store_id: str, email: str) -> Shopper | None:
        email_hash = self._cipher.email_hash(store_id, email)
        return self._shopper(
            self._shoppers.find_one({"store_id": store_id, "email_hash": email_hash})
        )

    def update(self, store_id: str, shopper_id: str, changes: dict[str, str]) -> Shopper | None:
        current = self.get(store_id, shopper_id)
        if current is None:
            return None
        updated = Shopper(
            current.id, store_id, changed(current.fields, changes), current.created_at
        )
        sealed = self._sealed(updated)
        try:
            result = self._shoppers.update_one(
                {"_id": shopper_id, "store_id": store_id},
                {"$set": {"email_hash": sealed["email_hash"], "sealed": sealed["sealed"]}},
            )
        except DuplicateKeyError as exc:
            raise DuplicateShopper(store_id) from exc
        return updated if result.matched_count else None

    def known_ids(self, store_id: str, shopper_ids: list[str]) -> set[str]:
        query = {"_id": {"$in": sorted(set(shopper_ids))}, "store_id": store_id}
        return {doc["_id"] for doc in self._shoppers.find(query, {"_id": 1})}

    def delete(self, store_id: str, shopper_id: str) -> bool:
        return (
            self._shoppers.delete_one({"_id": shopper_id, "store_id": store_id}).deleted_count > 0
        )

    def delete_store(self, store_id: str) -> int:
        return self._shoppers.delete_many({"store_id": store_id}).deleted_count

    def count(self, store_id: str) -> int:
        return self._shoppers.count_documents({"store_id": store_id})

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def _sealed(self, shopper: Shopper) -> dict[str, Any]:
        cipher = self._cipher
        return {
            "_id": shopper.id,
            "store_id": shopper.store_id,
            "email_hash": cipher.email_hash(shopper.store_id, shopper.fields.email),
            "sealed": Binary(cipher.seal(shopper.store_id, shopper.id, shopper.fields)),
        }

    def _shopper(self, document: dict[str, Any] | None) -> Shopper | None:
        if document is None:
            return None
        shopper_id, store_id = document["_id"], document["store_id"]
        opened = self._cipher.open(store_id, shopper_id, bytes(document["sealed"]))
        return Shopper(shopper_id, store_id, opened, document["created_at"])
