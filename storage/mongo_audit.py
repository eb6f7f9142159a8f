"""The audit log on MongoDB, where a fold spans several documents without a transaction.

Records are stored as batches (`storage.audit.batches`: one document per append and day, the
records' columns packed in `body`). A fold claims batches (`batch`, `claimed_at`), adds them to
each counter at most once (the counter remembers the last claims it took, `applied`), then marks
the batches counted. A fold that died after the claim leaves its batches claimed and not
counted: the next fold, once the claim is `CLAIM_SECONDS` old, applies that claim again, and
counters that already took it skip it.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.audit import (
    BATCH_RECORDS,
    AuditRecord,
    Batch,
    Kind,
    batches,
    callers,
    tally,
    unpack,
    whole_batches,
)

CLAIM_SECONDS = 60.0
REMEMBERED_BATCHES = 64  # per counter: far more than folds that can die in a row


class MongoAuditLog:
    def __init__(self, db: Database):
        self._records = db["audit_batches"]
        self._first_layout = db["audit_records"]
        self._counters = db["usage_daily"]

    def ensure_indexes(self) -> None:
        self._records.create_index([("batch", ASCENDING), ("_id", ASCENDING)])
        self._records.create_index([("folded", ASCENDING), ("claimed_at", ASCENDING)])
        self._records.create_index([("day", ASCENDING), ("folded", ASCENDING)])
        self._counters.create_index(
            [("kind", ASCENDING), ("subject", ASCENDING), ("day", ASCENDING)]
        )
        self._adopt_record_documents()

    def _adopt_record_documents(self) -> None:
        """Move the documents of the first layout (one `audit_records` document per call) into
        batches, counted or not as they were. Each chunk's batches take ids made from its first
        document's, so a move cut short and run again never stores a chunk twice."""
        fields = dict.fromkeys((*AuditRecord._fields, "folded"), 1)
        while chunk := list(self._first_layout.find({}, fields).sort("_id").limit(BATCH_RECORDS)):
            for folded in (True, False):
                kept = [_record_of(doc) for doc in chunk if bool(doc.get("folded")) is folded]
                for number, batch in enumerate(batches(kept)):
                    document = {**_document(batch), "folded": folded}
                    document["_id"] = f"adopted-{chunk[0]['_id']}-{not folded:d}-{number:05d}"
                    with contextlib.suppress(DuplicateKeyError):
                        self._records.insert_one(document)
            self._first_layout.delete_many({"_id": {"$in": [doc["_id"] for doc in chunk]}})

    def append(self, records: list[AuditRecord]) -> None:
        documents = [_document(batch) for batch in batches(records)]
        if documents:
            self._records.insert_many(documents, ordered=True)

    def fold(self, limit: int, now: float) -> int:
        folded = sum(self._apply(claim) for claim in self._abandoned_claims(now))
        candidates = self._records.find({"batch": None}, {"records": 1}).sort("_id").limit(limit)
        chosen, _records = whole_batches(_sizes(candidates), limit)
        if not chosen:
            return folded
        claim = uuid.uuid4().hex
        self._records.update_many(
            {"_id": {"$in": chosen}, "batch": None},
            {"$set": {"batch": claim, "claimed_at": now}},
        )
        return folded + self._apply(claim)

    def _abandoned_claims(self, now: float) -> list[str]:
        query = {"folded": False, "claimed_at": {"$lt": now - CLAIM_SECONDS}}
        return sorted({doc["batch"] for doc in self._records.find(query, {"batch": 1})})

    def _apply(self, claim: str) -> int:
        documents = list(
            self._records.find({"batch": claim, "folded": False}, {"records": 1, "body": 1})
        )
        counts = tally(
            itertools.chain.from_iterable(callers(bytes(doc["body"])) for doc in documents)
        )
        for (kind, subject, day), calls in counts.items():
            self._add_once(kind, subject, day, calls, claim)
        self._records.update_many({"batch": claim}, {"$set": {"folded": True}})
        return sum(doc["records"] for doc in documents)

    def _add_once(self, kind: str, subject: str, day: str, calls: int, claim: str) -> None:
        key = f"{kind}|{subject}|{day}"
        # DuplicateKeyError: the counter exists and took this claim already
        with contextlib.suppress(DuplicateKeyError):
            self._counters.update_one(
                {"_id": key, "applied": {"$ne": claim}},
                {
                    "$inc": {"calls": calls},
                    "$set": {"kind": kind, "subject": subject, "day": day},
                    "$push": {"applied": {"$each": [claim], "$slice": -REMEMBERED_BATCHES}},
                },
                upsert=True,
            )

    def expire(self, before_day: str, limit: int) -> int:
        query = {"day": {"$lt": before_day}, "folded": True}
        candidates = self._records.find(query, {"records": 1}).limit(limit)
        chosen, records = whole_batches(_sizes(candidates), limit)
        if chosen:
            self._records.delete_many({"_id": {"$in": chosen}})
        return records

    def records(self) -> Iterator[AuditRecord]:
        for doc in self._records.find({}, {"body": 1}).sort("_id"):
            yield from unpack(bytes(doc["body"]))

    def daily_calls(
        self, kind: Kind, subject: str, first_day: str, last_day: str
    ) -> dict[str, int]:
        query = {"kind": kind, "subject": subject, "day": {"$gte": first_day, "$lte": last_day}}
        return {
            doc["day"]: doc["calls"] for doc in self._counters.find(query, {"day": 1, "calls": 1})
        }

    def pending(self) -> int:
        totals = self._records.aggregate(
            [
                {"$match": {"folded": False}},
                {"$group": {"_id": None, "records": {"$sum": "$records"}}},
            ]
        )
        return next((doc["records"] for doc in totals), 0)


def _sizes(documents: Iterable[dict[str, Any]]) -> Iterator[tuple[Any, int]]:
    return ((doc["_id"], doc["records"]) for doc in documents)


def _record_of(document: dict[str, Any]) -> AuditRecord:
    return AuditRecord._make(document.get(name) for name in AuditRecord._fields)


def _document(batch: Batch) -> dict[str, Any]:
    return {
        "day": batch.day,
        "records": batch.records,
        "body": Binary(batch.body),
        "batch": None,
        "claimed_at": None,
        "folded": False,
    }
