"""The production backend: MongoDB through pymongo (and mongomock in tests, hence no server-only
features such as `$$NOW`).

Package documents use `_id = package_id`; every state change is one filtered update, so the filter
(status, claim token, heartbeat) is what makes it safe against a second worker or the reaper.
"""

from __future__ import annotations

import time
from typing import Any

import pymongo
from bson import Binary
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.base import ACTIVE_STATUSES, EnqueueOutcome, PackageRecord, Status
from storage.errors import RetryPolicy, retried
from storage.link_vault import LinkVault
from storage.mongo_app_files import MongoAppFiles
from storage.mongo_audit import MongoAuditLog
from storage.mongo_bandwidth import MongoBandwidth
from storage.mongo_events import MongoEventStore
from storage.mongo_identity import MongoIdentity
from storage.mongo_projects import MongoProjects
from storage.mongo_statistics import MongoStatistics
from storage.mongo_upload_digests import MongoUploadDigests
from storage.shredding import ShreddingPackages

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_LIVE = [Status.QUEUED.value, *_ACTIVE]  # what `fail(token=None)` may stop
_ENDED = [Status.PROCESSED.value, Status.ERRORED.value]
_FIELDS = (
    "error_code",
    "sealed_link",
    "queued_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "attempts",
    "claim_token",
    "generation",
    "progress",
    "bytes_done",
    "bytes_total",
    "sent_at",
)
# Counts feed the API's /metrics: a slow server makes them absent rather than hold the scrape.
COUNT_DEADLINE_MS = 2000
_CLEARED = dict.fromkeys(("started_at", "finished_at", "heartbeat_at", "claim_token"))
_NO_BYTES: dict[str, Any] = {"bytes_done": None, "bytes_total": None}
# Where release and requeue_stale put an active package: QUEUED, place in line and attempts kept.
_REQUEUED: dict[str, Any] = {
    "status": Status.QUEUED.value,
    "claim_token": None,
    "heartbeat_at": None,
}
_REQUEUED |= {"progress": 0} | _NO_BYTES


def _claimable(stale_before: float) -> list[dict[str, Any]]:
    """`$or` branches: QUEUED, or active with a heartbeat older than `stale_before`."""
    return [
        {"status": Status.QUEUED.value},
        {"status": {"$in": _ACTIVE}, "heartbeat_at": {"$lt": stale_before}},
    ]


def _unsent(sent_before: float) -> dict[str, Any]:
    """QUEUED and sent before `sent_before`, or never (`sent_at` null or missing)."""
    return {
        "status": Status.QUEUED.value,
        "$or": [{"sent_at": {"$lt": sent_before}}, {"sent_at": None}],
    }


def _expired(finished_before: float) -> dict[str, Any]:
    """PROCESSED or ERRORED, finished before `finished_before`."""
    return {"status": {"$in": _ENDED}, "finished_at": {"$lt": finished_before}}


def _new_package(package_id: str, sealed_link: bytes, now: float) -> dict[str, Any]:
    """A fresh QUEUED package document with every field present."""
    doc: dict[str, Any] = dict.fromkeys(_FIELDS)
    doc.update(
        _id=package_id,
        status=Status.QUEUED.value,
        sealed_link=Binary(sealed_link),
        queued_at=now,
        sent_at=now,
        attempts=0,
        generation=0,
        progress=0,
    )
    return doc


def _record(doc: dict[str, Any]) -> PackageRecord:
    """A package document as a record."""
    fields: dict[str, Any] = {name: doc.get(name) for name in _FIELDS}
    if fields["sealed_link"] is not None:
        fields["sealed_link"] = bytes(fields["sealed_link"])
    for name in ("attempts", "generation", "progress"):
        fields[name] = int(fields[name] or 0)
    return PackageRecord(package_id=doc["_id"], status=Status(doc["status"]), **fields)


def _failed(code: str, now: float) -> dict[str, Any]:
    """The `$set` of fail and fail_stale: ERRORED, link wiped, claim released."""
    failed = {"status": Status.ERRORED.value, "error_code": code, "finished_at": now}
    return failed | {"sealed_link": None, "claim_token": None}


class MongoPackages:
    """Package documents in the `packages` collection, tombstones in `tombstones`.

    A tombstone is written before the change it records (two collections cannot change
    together without a transaction): a crash in between leaves a tombstone of a package that
    did not change, which the sweeper handles, never a change without its tombstone.
    """

    def __init__(self, collection, tombstones, retry: RetryPolicy | None = None):
        self._col = collection
        self._tombstones = tombstones
        self.retry = retry or RetryPolicy()

    @retried  # an upsert of the same value
    def _leave_tombstone(self, package_id: str, now: float) -> None:
        self._tombstones.update_one({"_id": package_id}, {"$set": {"at": now}}, upsert=True)

    def _update(self, filter_: dict, update: dict) -> bool:
        # matched, not modified: a heartbeat with unchanged values still proves the claim holds.
        return self._col.update_one(filter_, update).matched_count == 1

    def enqueue(self, package_id: str, sealed_link: bytes, now: float) -> EnqueueOutcome:
        """Create as QUEUED, or reset an ERRORED one to QUEUED; otherwise change nothing.

        REQUEUED is a fresh start: new sealed link, `queued_at=now`, `attempts=0`, error code,
        claim, times and progress cleared; the published `generation` is kept. CREATED and
        REQUEUED set `sent_at=now`.
        """
        try:
            self._col.insert_one(_new_package(package_id, sealed_link, now))
            return EnqueueOutcome.CREATED
        except DuplicateKeyError:
            pass
        reset: dict[str, Any] = {
            "status": Status.QUEUED.value,
            "error_code": None,
            "queued_at": now,
        }
        reset |= {"sealed_link": Binary(sealed_link), "attempts": 0, "progress": 0, "sent_at": now}
        if self._update(
            {"_id": package_id, "status": Status.ERRORED.value},
            {"$set": reset | _CLEARED | _NO_BYTES},
        ):
            return EnqueueOutcome.REQUEUED
        return EnqueueOutcome.EXISTING

    @retried
    def get(self, package_id: str) -> PackageRecord | None:
        """The package, or None."""
        doc = self._col.find_one({"_id": package_id})
        return _record(doc) if doc else None

    def claim(
        self, package_id: str, token: str, now: float, stale_before: float
    ) -> PackageRecord | None:
        """Take the package for one worker run (QUEUED, or active with a stale heartbeat)."""
        taken: dict[str, Any] = {
            "status": Status.DOWNLOADING.value,
            "claim_token": token,
            "started_at": now,
        }
        taken |= {"heartbeat_at": now, "progress": 0} | _NO_BYTES
        doc = self._col.find_one_and_update(
            {"_id": package_id, "$or": _claimable(stale_before)},
            {"$set": taken, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return _record(doc) if doc else None

    @retried  # the same values and heartbeat again; still matched while the claim holds
    def set_step(
        self,
        package_id: str,
        token: str,
        step: Status,
        progress: int,
        bytes_done: int | None,
        bytes_total: int | None,
        now: float,
    ) -> bool:
        """Record progress and a heartbeat; False when the claim is lost (deleted, reaped)."""
        if step not in ACTIVE_STATUSES:
            raise ValueError(f"set_step takes an active status, not {step}")
        values: dict[str, Any] = {
            "status": Status(step).value,
            "progress": max(0, min(100, int(progress))),
        }
        values |= {"bytes_done": bytes_done, "bytes_total": bytes_total, "heartbeat_at": now}
        return self._update(
            {"_id": package_id, "claim_token": token, "status": {"$in": _ACTIVE}},
            {"$set": values},
        )

    def publish(self, package_id: str, token: str, generation: int, now: float) -> bool:
        """PROCESSED with that generation, link wiped, claim released; only for the claimer."""
        done = {"status": Status.PROCESSED.value, "generation": generation, "finished_at": now}
        done |= {"progress": 100, "sealed_link": None, "claim_token": None, "error_code": None}
        return self._update(
            {"_id": package_id, "claim_token": token, "status": {"$in": _ACTIVE}},
            {"$set": done},
        )

    def fail(self, package_id: str, token: str | None, code: str, now: float) -> bool:
        """ERRORED with the code, link wiped, claim released (token None: any QUEUED or active)."""
        if token is None:
            filter_ = {"_id": package_id, "status": {"$in": _LIVE}}
        else:
            filter_ = {"_id": package_id, "claim_token": token, "status": {"$in": _ACTIVE}}
        self._leave_tombstone(package_id, now)
        return self._update(filter_, {"$set": _failed(code, now)})

    def fail_stale(self, package_id: str, stale_before: float, code: str, now: float) -> bool:
        """ERRORED like `fail(token=None)`, only when QUEUED or active with a stale heartbeat."""
        filter_ = {"_id": package_id, "$or": _claimable(stale_before)}
        self._leave_tombstone(package_id, now)
        return self._update(filter_, {"$set": _failed(code, now)})

    def release(
        self, package_id: str, token: str, now: float, refund_attempt: bool = False
    ) -> bool:
        """The claimer gives the package back: QUEUED, keeping its place in line and attempts
        (one fewer with `refund_attempt`; a claimed package has at least one)."""
        update: dict[str, Any] = {"$set": _REQUEUED | {"sent_at": now}}
        if refund_attempt:
            update["$inc"] = {"attempts": -1}
        filter_ = {"_id": package_id, "claim_token": token, "status": {"$in": _ACTIVE}}
        return self._update(filter_, update)

    def requeue_stale(self, package_id: str, stale_before: float, now: float) -> bool:
        """An active package with a stale heartbeat back to QUEUED, keeping its place in line.

        Sets `sent_at=now`: the reaper sends its message right after.
        """
        return self._update(
            {"_id": package_id, "status": {"$in": _ACTIVE}, "heartbeat_at": {"$lt": stale_before}},
            {"$set": _REQUEUED | {"sent_at": now}},
        )

    @retried
    def find_stale(self, stale_before: float, limit: int = 100) -> list[PackageRecord]:
        """Active packages whose heartbeat is older than `stale_before`, oldest first."""
        cursor = (
            self._col.find({"status": {"$in": _ACTIVE}, "heartbeat_at": {"$lt": stale_before}})
            .sort([("heartbeat_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_record(doc) for doc in cursor]

    @retried
    def find_unsent(self, sent_before: float, limit: int = 100) -> list[PackageRecord]:
        """QUEUED packages sent before `sent_before` (or never), oldest `sent_at` first."""
        cursor = (
            self._col.find(_unsent(sent_before))
            .sort([("sent_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_record(doc) for doc in cursor]

    def mark_sent(self, package_id: str, sent_before: float, now: float) -> bool:
        """`sent_at=now` only when QUEUED and sent before `sent_before` (or never): one winner."""
        return self._update({"_id": package_id} | _unsent(sent_before), {"$set": {"sent_at": now}})

    @retried
    def queue_position(self, package_id: str) -> tuple[int, int]:
        """(QUEUED packages queued before this one, all QUEUED packages); ties by package id.

        A package that is not QUEUED (or does not exist) is at position 0.
        """
        queued = Status.QUEUED.value
        total = self._col.count_documents({"status": queued})
        doc = self._col.find_one({"_id": package_id, "status": queued}, {"queued_at": 1})
        if doc is None:
            return 0, total
        at = doc["queued_at"]
        before = self._col.count_documents(
            {
                "status": queued,
                "$or": [{"queued_at": {"$lt": at}}, {"queued_at": at, "_id": {"$lt": package_id}}],
            }
        )
        return before, total

    def delete(self, package_id: str, now: float | None = None) -> bool:
        """Leave a tombstone, then remove the package document; True when one existed."""
        self._leave_tombstone(package_id, time.time() if now is None else now)
        return self._col.delete_one({"_id": package_id}).deleted_count == 1

    def count_by_status(self) -> dict[Status, int]:
        """How many packages are in each status; every status is a key (0 when none)."""
        groups = self._grouped_counts({}, "$status")
        return dict.fromkeys(Status, 0) | {Status(status): count for status, count in groups}

    def count_by_error_code(self) -> dict[str, int]:
        """How many ERRORED packages there are per error code (only codes that occur)."""
        errored = {"status": Status.ERRORED.value, "error_code": {"$ne": None}}
        return dict(self._grouped_counts(errored, "$error_code"))

    def _grouped_counts(self, match: dict[str, Any], key: str) -> list[tuple[Any, int]]:
        """(value of `key`, documents) over the documents matching `match`, within a deadline
        that bounds the wait for a server too (a scrape while MongoDB is away)."""
        pipeline = [{"$match": match}, {"$group": {"_id": key, "n": {"$sum": 1}}}]
        with pymongo.timeout(COUNT_DEADLINE_MS / 1000):
            cursor = self._col.aggregate(pipeline)
            return [(group["_id"], int(group["n"])) for group in cursor]

    @retried
    def find_tombstones(self, before: float, limit: int = 100) -> list[tuple[str, float]]:
        """`(package_id, at)` of tombstones left before `before`, oldest first."""
        cursor = (
            self._tombstones.find({"at": {"$lt": before}})
            .sort([("at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [(doc["_id"], doc["at"]) for doc in cursor]

    @retried  # conditional on `at`: a second call removes nothing more
    def clear_tombstone(self, package_id: str, at: float) -> bool:
        """Remove the package's tombstone if it is still the one left at `at`."""
        return self._tombstones.delete_one({"_id": package_id, "at": at}).deleted_count == 1

    @retried
    def find_expired(self, finished_before: float, limit: int = 100) -> list[PackageRecord]:
        """PROCESSED or ERRORED packages finished before `finished_before`, oldest first."""
        cursor = (
            self._col.find(_expired(finished_before))
            .sort([("finished_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_record(doc) for doc in cursor]

    def delete_expired(self, package_id: str, finished_before: float, now: float) -> bool:
        """Leave a tombstone, then delete the package only while it is ended and old enough."""
        self._leave_tombstone(package_id, now)
        filter_ = {"_id": package_id} | _expired(finished_before)
        return self._col.delete_one(filter_).deleted_count == 1


class MongoStore:
    """The MongoDB store: packages and statistics collections in one database, app data files
    in its GridFS bucket `app_files`.

    With a `LinkVault`, every end of a package shreds its link keys. The keys never enter
    MongoDB, so the oplog and backups only ever hold sealed links that nothing can open once
    their package has ended.
    """

    def __init__(
        self,
        client_or_db,
        db_name: str | None = None,
        links: LinkVault | None = None,
        retry: RetryPolicy | None = None,
    ):
        if db_name is None:  # a Database was given
            self._db, self._client = client_or_db, client_or_db.client
        else:
            self._client, self._db = client_or_db, client_or_db[db_name]
        self.links = links
        retry = retry or RetryPolicy()
        packages = MongoPackages(self._db["packages"], self._db["tombstones"], retry)
        self.upload_digests = MongoUploadDigests(self._db["upload_digests"])
        forget = self.upload_digests.forget_package
        self.packages = (
            ShreddingPackages(packages, links, self.compact, forget) if links else packages
        )
        self.statistics = MongoStatistics(self._db["statistics"], self._db["packages"], retry)
        self.app_files = MongoAppFiles(self._db, self._db["packages"], retry)
        self.identity = MongoIdentity(self._db)
        self.audit = MongoAuditLog(self._db)
        self.events = MongoEventStore(self._db)
        self.bandwidth = MongoBandwidth(self._db)
        self.projects = MongoProjects(self._db)

    @property
    def gridfs_database(self) -> Any:
        """The store's database, where GridFS keeps project files (`storage.file_bytes`)."""
        return self._db

    def ping(self, timeout: float | None = None) -> bool:
        """True when the server answers a ping (within `timeout` seconds when given)."""
        try:
            with pymongo.timeout(timeout):
                self._client.admin.command("ping")
        except Exception:  # any failure (timeout, auth, DNS) means "not reachable"
            return False
        return True

    def compact(self) -> None:
        """Nothing to do: MongoDB reuses freed space itself, and holds no link key to forget."""

    def ensure_indexes(self) -> None:
        """Create the indexes (idempotent)."""
        packages = self._db["packages"]
        packages.create_index([("status", ASCENDING), ("queued_at", ASCENDING)])
        packages.create_index([("status", ASCENDING), ("heartbeat_at", ASCENDING)])
        packages.create_index([("status", ASCENDING), ("sent_at", ASCENDING)])
        packages.create_index([("status", ASCENDING), ("finished_at", ASCENDING)])
        self._db["tombstones"].create_index([("at", ASCENDING), ("_id", ASCENDING)])
        self._db["statistics"].create_index(
            [("package_id", ASCENDING), ("generation", ASCENDING), ("view_id", ASCENDING)],
            unique=True,
        )
        self.app_files.ensure_indexes()
        self.identity.ensure_indexes()
        self.audit.ensure_indexes()
        self.events.ensure_indexes()
        self.upload_digests.ensure_indexes()
        self.bandwidth.ensure_indexes()
        self.projects.ensure_indexes()

    def close(self) -> None:
        """Close the client (shared by the whole process: call once, at shutdown)."""
        self._client.close()
