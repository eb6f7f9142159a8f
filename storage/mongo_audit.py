"""The audit log on MongoDB, where a fold spans several documents without a transaction.

A fold claims a batch of records (`batch`, `claimed_at`), adds the batch to each counter at most
once (the counter remembers the last batches it took, `applied`), then marks the records
counted. A fold that died after the claim leaves its batch claimed and not counted: the next
fold, once the claim is `CLAIM_SECONDS` old, applies that batch again, and counters that already
took it skip it.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.audit import AuditRecord, Kind, tally

CLAIM_SECONDS = 60.0
REMEMBERED_BATCHES = 64  # per counter: far more than folds that can die in a row


class MongoAuditLog:
    def __init__(self, db: Database):
        self._records = db["audit_records"]
        self._counters = db["usage_daily"]

    def ensure_indexes(self) -> None:
        self._records.create_index([("batch", ASCENDING), ("_id", ASCENDING)])
        self._records.create_index([("folded", ASCENDING), ("claimed_at", ASCENDING)])
        self._records.create_index([("day", ASCENDING), ("folded", ASCENDING)])
        self._counters.create_index(
            [("kind", ASCENDING), ("subject", ASCENDING), ("day", ASCENDING)]
        )

    def append(self, records: list[AuditRecord]) -> None:
        if records:
            self._records.insert_many([_document(r) for r in records], ordered=True)

    def fold(self, limit: int, now: float) -> int:
        folded = sum(self._apply(batch) for batch in self._abandoned_batches(now))
        claimed = [
            doc["_id"]
            for doc in self._records.find({"batch": None}, {"_id": 1}).sort("_id").limit(limit)
        ]
        if not claimed:
            return folded
        batch = uuid.uuid4().hex
        self._records.update_many(
            {"_id": {"$in": claimed}, "batch": None},
            {"$set": {"batch": batch, "claimed_at": now}},
        )
        return folded + self._apply(batch)

    def _abandoned_batches(self, now: float) -> list[str]:
        query = {"folded": False, "claimed_at": {"$lt": now - CLAIM_SECONDS}}
        return sorted({doc["batch"] for doc in self._records.find(query, {"batch": 1})})

    def _apply(self, batch: str) -> int:
        records = list(
            self._records.find(
                {"batch": batch, "folded": False}, {"day": 1, "account_id": 1, "organization_id": 1}
            )
        )
        counts = tally((r["day"], r.get("account_id"), r.get("organization_id")) for r in records)
        for (kind, subject, day), calls in counts.items():
            self._add_once(kind, subject, day, calls, batch)
        self._records.update_many({"batch": batch}, {"$set": {"folded": True}})
        return len(records)

    def _add_once(self, kind: str, subject: str, day: str, calls: int, batch: str) -> None:
        key = f"{kind}|{subject}|{day}"
        # DuplicateKeyError: the counter exists and took this batch already
        with contextlib.suppress(DuplicateKeyError):
            self._counters.update_one(
                {"_id": key, "applied": {"$ne": batch}},
                {
                    "$inc": {"calls": calls},
                    "$set": {"kind": kind, "subject": subject, "day": day},
                    "$push": {"applied": {"$each": [batch], "$slice": -REMEMBERED_BATCHES}},
                },
                upsert=True,
            )

    def expire(self, before_day: str, limit: int) -> int:
        ids = [
            doc["_id"]
            for doc in self._records.find(
                {"day": {"$lt": before_day}, "folded": True}, {"_id": 1}
            ).limit(limit)
        ]
        if not ids:
            return 0
        return self._records.delete_many({"_id": {"$in": ids}}).deleted_count

    def daily_calls(
        self, kind: Kind, subject: str, first_day: str, last_day: str
    ) -> dict[str, int]:
        query = {"kind": kind, "subject": subject, "day": {"$gte": first_day, "$lte": last_day}}
        return {
            doc["day"]: doc["calls"] for doc in self._counters.find(query, {"day": 1, "calls": 1})
        }

    def pending(self) -> int:
        return self._records.count_documents({"folded": False})


def _document(record: AuditRecord) -> dict[str, Any]:
    return {
        "day": record.day,
        "at": record.at,
        "account_id": record.account_id,
        "organization_id": record.organization_id,
        "route": record.route,
        "method": record.method,
        "status": record.status,
        "duration_ms": record.duration_ms,
        "batch": None,
        "claimed_at": None,
        "folded": False,
    }
