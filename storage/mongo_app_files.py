"""App data files in the MongoDB backend: GridFS (`app_files.files` / `app_files.chunks`).

A file may exceed a document's 16 MB, so it is stored in GridFS chunks under the id
`<package id>:<generation>`; the IV, or why there is no file, rides in its metadata. A record
with no file is an empty GridFS file, so one place holds both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import gridfs
from bson import ObjectId
from pymongo import ASCENDING

from storage.base import AppFileRecord
from storage.errors import RetryPolicy, retried
from storage.mongo_statistics import orphan_ids

BUCKET = "app_files"
_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
WRITER_GRACE_SECONDS = 3600


def _file_id(package_id: str, generation: int) -> str:
    return f"{package_id}:{int(generation)}"


def _record(doc: dict[str, Any]) -> AppFileRecord:
    meta = doc.get("metadata") or {}
    return AppFileRecord(
        meta["package_id"],
        int(meta["generation"]),
        meta.get("iv"),
        int(doc.get("length") or 0),
        meta.get("error_code"),
    )


class MongoAppFiles:
    """App data files in a GridFS bucket of the store's database."""

    def __init__(self, database, packages_collection, retry: RetryPolicy | None = None):
        self.retry = retry or RetryPolicy()
        self._database = database
        self._gridfs: gridfs.GridFS | None = None
        self._files = database[f"{BUCKET}.files"]
        self._packages = packages_collection

    @property
    def _fs(self) -> gridfs.GridFS:
        # Made on first use: opening a store sends nothing to the server.
        if self._gridfs is None:
            self._gridfs = gridfs.GridFS(self._database, collection=BUCKET)
        return self._gridfs

    def ensure_indexes(self) -> None:
        """Index the files by package (GridFS makes its own chunk index on first write)."""
        self._files.create_index([("metadata.package_id", ASCENDING)])

    def _store(self, package_id: str, generation: int, blob: bytes, **meta: Any) -> None:
        if not _PACKAGE_ID.fullmatch(package_id):
            raise ValueError("not a package id")
        file_id = _file_id(package_id, generation)
        self._fs.delete(file_id)  # a redelivered run replaces what it wrote
        metadata = {"package_id": package_id, "generation": int(generation), **meta}
        self._fs.put(blob, _id=file_id, filename=file_id, metadata=metadata)

    def put(self, package_id: str, generation: int, iv: str, blob: bytes) -> AppFileRecord:
        """Store the ciphertext in chunks, with its IV in the file's metadata."""
        self._store(package_id, generation, blob, iv=iv, error_code=None)
        return AppFileRecord(package_id, generation, iv, len(blob))

    def put_unavailable(self, package_id: str, generation: int, error_code: str) -> None:
        """An empty file whose metadata says why there is no data file."""
        self._store(package_id, generation, b"", iv=None, error_code=error_code)

    @retried
    def get(self, package_id: str, generation: int) -> AppFileRecord | None:
        """The record of a generation, or None."""
        doc = self._files.find_one({"_id": _file_id(package_id, generation)})
        return _record(doc) if doc else None

    def open(self, package_id: str, generation: int) -> BinaryIO | None:
        """A GridFS reader over the ciphertext, or None when there is none."""
        record = self.get(package_id, generation)
        if record is None or record.iv is None:
            return None
        try:
            return self._fs.get(_file_id(package_id, generation))
        except gridfs.NoFile:
            return None

    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's files (chunks included) except `keep_generation`."""
        filter_: dict[str, Any] = {"metadata.package_id": package_id}
        if keep_generation is not None:
            filter_["metadata.generation"] = {"$ne": int(keep_generation)}
        ids = [doc["_id"] for doc in self._files.find(filter_, {"_id": 1})]
        for file_id in ids:
            self._fs.delete(file_id)
        return len(ids)

    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete one generation's file."""
        file_id = _file_id(package_id, generation)
        existed = self._files.count_documents({"_id": file_id}, limit=1)
        self._fs.delete(file_id)
        return existed

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have app files but no package document."""
        return orphan_ids(self._files, "metadata.package_id", self._packages, limit)

    def purge_orphans(self, limit: int = 100) -> int:
        """Delete the files of up to `limit` orphan packages, each absence re-checked first.

        GridFS writes its chunks before the file document, so old chunks whose file never came
        are removed too (a writer that died halfway).
        """
        deleted = 0
        for package_id in self.orphan_package_ids(limit):
            if self._packages.find_one({"_id": package_id}, {"_id": 1}) is None:
                deleted += self.delete_package(package_id)
        self._remove_chunks_without_file()
        return deleted

    def _remove_chunks_without_file(self) -> None:
        # Only chunks over an hour old: a live writer's chunks wait for their file document.
        before = ObjectId.from_datetime(datetime.now(UTC) - timedelta(seconds=WRITER_GRACE_SECONDS))
        chunks = self._files.database[f"{BUCKET}.chunks"]
        for files_id in chunks.distinct("files_id"):
            if self._files.count_documents({"_id": files_id}, limit=1) == 0:
                chunks.delete_many({"files_id": files_id, "_id": {"$lt": before}})
