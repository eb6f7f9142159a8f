"""Sealed statistics blobs in the MongoDB backend: the `statistics` collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from bson import Binary
from pymongo import ReplaceOne

from storage.base import Status
from storage.errors import RetryPolicy, retried

BATCH_SIZE = 500


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def orphan_ids(collection: Any, field: str, packages: Any, limit: int) -> list[str]:
    """Up to `limit` distinct values of `field` in `collection` that name no package document."""
    pipeline = [
        {"$group": {"_id": f"${field}"}},
        {"$sort": {"_id": 1}},
        {
            "$lookup": {
                "from": packages.name,
                "localField": "_id",
                "foreignField": "_id",
                "as": "package",
            }
        },
        {"$match": {"package": {"$size": 0}}},
        {"$limit": limit},
    ]
    return [doc["_id"] for doc in collection.aggregate(pipeline)]


class MongoStatistics:
    """Sealed statistics blobs in the `statistics` collection."""

    def __init__(self, collection, packages_collection, retry: RetryPolicy | None = None):
        self._col = collection
        self._packages = packages_collection
        self.retry = retry or RetryPolicy()

    def put_many(self, package_id: str, generation: int, items: Iterable[tuple[str, bytes]]) -> int:
        """Upsert `(view_id, sealed blob)` pairs, one bulk write per batch; returns the count."""
        written = 0
        for batch in _batches(items, BATCH_SIZE):
            ops = []
            for view_id, blob in batch:
                key = {"package_id": package_id, "generation": generation, "view_id": view_id}
                ops.append(ReplaceOne(key, key | {"blob": Binary(blob)}, upsert=True))
            self._write_batch(ops)
            written += len(ops)
        return written

    @retried  # keyed replacements: writing a batch twice writes the same documents
    def _write_batch(self, ops: list[ReplaceOne]) -> None:
        self._col.bulk_write(ops, ordered=False)

    @retried
    def get(self, package_id: str, generation: int, view_id: str) -> bytes | None:
        """One indexed read."""
        doc = self._col.find_one(
            {"package_id": package_id, "generation": generation, "view_id": view_id},
            {"blob": 1, "_id": 0},
        )
        return bytes(doc["blob"]) if doc else None

    def get_current(
        self, package_id: str, view_id: str
    ) -> tuple[Status, str | None, int, bytes | None] | None:
        """The package's status, error code and published generation, and that generation's
        view (None if it has none); None when there is no such package. Two indexed reads."""
        fields = {"status": 1, "error_code": 1, "generation": 1}
        package = self.retry.call(self._packages.find_one, {"_id": package_id}, fields)
        if package is None:
            return None
        generation = int(package.get("generation") or 0)
        blob = self.get(package_id, generation, view_id)
        return Status(package["status"]), package.get("error_code"), generation, blob

    @retried
    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's documents except `keep_generation`; returns how many."""
        filter_: dict[str, Any] = {"package_id": package_id}
        if keep_generation is not None:
            filter_["generation"] = {"$ne": keep_generation}
        return self._col.delete_many(filter_).deleted_count

    @retried
    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete one generation of the package's documents (an unpublished run's)."""
        filter_ = {"package_id": package_id, "generation": generation}
        return self._col.delete_many(filter_).deleted_count

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have statistics but no package document (an audit, never scheduled)."""
        return orphan_ids(self._col, "package_id", self._packages, limit)
