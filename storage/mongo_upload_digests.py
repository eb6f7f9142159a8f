"""Upload digests on MongoDB (`storage.upload_digests` says what they are)."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError


class MongoUploadDigests:
    def __init__(self, collection: Any) -> None:
        self._digests = collection

    def ensure_indexes(self) -> None:
        self._digests.create_index("package_id")

    def package_of(self, digest: str) -> str | None:
        found = self._digests.find_one({"_id": digest}, {"package_id": 1})
        return found["package_id"] if found else None

    def remember(self, digest: str, package_id: str, at: float) -> None:
        try:
            self._digests.replace_one(
                {"_id": digest}, {"package_id": package_id, "at": at}, upsert=True
            )
        except DuplicateKeyError:  # a concurrent upsert of the same digest created it first
            self._digests.replace_one({"_id": digest}, {"package_id": package_id, "at": at})

    def forget_package(self, package_id: str) -> None:
        self._digests.delete_many({"package_id": package_id})
