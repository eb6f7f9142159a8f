"""Bandwidth metering on MongoDB: one counters document per meter and day, one document per
transfer, one per meter with its own limit.

A charge is two single-document updates, each atomic on the server: an upsert that makes the
day's document if it is missing (`$setOnInsert`, nothing else), then a conditional `$inc` whose
filter says `uploaded <= limit - size`. The server applies the filter and the increment to one
document at once, so concurrent charges in any number of processes never pass the limit
together: the one that would is simply not matched. The upload's entry is inserted after its
bytes are counted; a process dying in between leaves the bytes charged and the entry unlisted,
never the reverse. Settling and refunding take the entry's size with an atomic
`find_one_and_update` / `find_one_and_delete`, so each changes the day's total exactly once.

Entries are listed newest first by time, then by `seq`, the day's `serial` counter at the
moment they were counted (commit order on the day's document).
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.bandwidth import DELETION, UPLOAD, DayUsage, Transfer, new_transfer_id

_ZEROS = {"uploaded": 0, "deleted": 0, "upload_count": 0, "deletion_count": 0, "serial": 0}
_LISTED_ORDER = [("at", DESCENDING), ("seq", DESCENDING)]


class MongoBandwidth:
    def __init__(self, db: Database):
        self._days = db["bandwidth_days"]
        self._transfers = db["bandwidth_transfers"]
        self._limits = db["bandwidth_limits"]

    def ensure_indexes(self) -> None:
        self._days.create_index([("meter", ASCENDING), ("day", ASCENDING)], unique=True)
        self._transfers.create_index(
            [("meter", ASCENDING), ("day", ASCENDING), ("kind", ASCENDING), ("at", ASCENDING),
             ("seq", ASCENDING)]
        )  # fmt: skip

    def charge(
        self, meter: str, day: str, size: int, limit: int, file_name: str, at: float
    ) -> Transfer | None:
        self._make_day(meter, day)
        counted = self._days.find_one_and_update(
            {"meter": meter, "day": day, "uploaded": {"$lte": limit - size}},
            {"$inc": {"uploaded": size, "upload_count": 1, "serial": 1}},
            {"serial": 1},
            return_document=ReturnDocument.AFTER,
        )
        if counted is None:
            return None
        transfer = Transfer(new_transfer_id(), file_name, size, at)
        self._insert(meter, day, UPLOAD, transfer, counted["serial"])
        return transfer

    def _make_day(self, meter: str, day: str) -> None:
        """The day's counters document, made with zeros if missing (two racing upserts: the
        unique index keeps one, the other's duplicate-key error means it exists)."""
        with contextlib.suppress(DuplicateKeyError):
            self._days.update_one(
                {"meter": meter, "day": day}, {"$setOnInsert": dict(_ZEROS)}, upsert=True
            )

    def _insert(self, meter: str, day: str, kind: str, transfer: Transfer, seq: int) -> None:
        self._transfers.insert_one(
            {
                "_id": transfer.id,
                "meter": meter,
                "day": day,
                "kind": kind,
                "file_name": transfer.file_name,
                "size": transfer.size,
                "at": transfer.at,
                "seq": seq,
            }
        )

    def settle(self, meter: str, day: str, transfer_id: str, size: int) -> None:
        before = self._transfers.find_one_and_update(
            _upload_of_day(meter, day, transfer_id),
            {"$set": {"size": size}},
            {"size": 1},
            return_document=ReturnDocument.BEFORE,
        )
        if before is not None:
            self._days.update_one(
                {"meter": meter, "day": day}, {"$inc": {"uploaded": size - before["size"]}}
            )

    def refund(self, meter: str, day: str, transfer_id: str) -> None:
        removed = self._transfers.find_one_and_delete(
            _upload_of_day(meter, day, transfer_id), {"size": 1}
        )
        if removed is not None:
            self._days.update_one(
                {"meter": meter, "day": day},
                {"$inc": {"uploaded": -removed["size"], "upload_count": -1}},
            )

    def log_deletion(self, meter: str, day: str, file_name: str, size: int, at: float) -> Transfer:
        counted = self._days.find_one_and_update(
            {"meter": meter, "day": day},
            {
                "$inc": {"deleted": size, "deletion_count": 1, "serial": 1},
                "$setOnInsert": {"uploaded": 0, "upload_count": 0},
            },
            {"serial": 1},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counted is not None  # an upsert always has a document to return
        transfer = Transfer(new_transfer_id(), file_name, size, at)
        self._insert(meter, day, DELETION, transfer, counted["serial"])
        return transfer

    def usage(self, meter: str, day: str, listed: int) -> DayUsage:
        document = self._days.find_one({"meter": meter, "day": day})
        return self._day(document, listed) if document else DayUsage(meter, day)

    def usages(self, meter: str, first_day: str, last_day: str, listed: int) -> list[DayUsage]:
        documents = self._days.find(
            {"meter": meter, "day": {"$gte": first_day, "$lte": last_day}}
        ).sort("day", DESCENDING)
        return [self._day(document, listed) for document in documents]

    def _day(self, document: dict[str, Any], listed: int) -> DayUsage:
        meter, day = document["meter"], document["day"]
        uploads, deletions = (self._listed(meter, day, kind, listed) for kind in (UPLOAD, DELETION))
        return DayUsage(
            meter,
            day,
            document["uploaded"],
            document["deleted"],
            document["upload_count"],
            document["deletion_count"],
            uploads,
            deletions,
        )

    def _listed(self, meter: str, day: str, kind: str, listed: int) -> list[Transfer]:
        if listed <= 0:  # MongoDB's limit(0) is no limit at all
            return []
        documents = (
            self._transfers.find({"meter": meter, "day": day, "kind": kind})
            .sort(_LISTED_ORDER)
            .limit(listed)
        )
        return [Transfer(d["_id"], d["file_name"], d["size"], d["at"]) for d in documents]

    def reset(self, meter: str, day: str) -> None:
        self._days.delete_one({"meter": meter, "day": day})
        self._transfers.delete_many({"meter": meter, "day": day})

    def set_limit(self, meter: str, limit: int | None) -> None:
        if limit is None:
            self._limits.delete_one({"_id": meter})
        else:
            self._limits.replace_one({"_id": meter}, {"daily_limit": limit}, upsert=True)

    def limit(self, meter: str) -> int | None:
        document = self._limits.find_one({"_id": meter})
        return document["daily_limit"] if document else None

    def delete_meter(self, meter: str) -> None:
        self._days.delete_many({"meter": meter})
        self._transfers.delete_many({"meter": meter})
        self._limits.delete_one({"_id": meter})


def _upload_of_day(meter: str, day: str, transfer_id: str) -> dict[str, Any]:
    return {"_id": transfer_id, "meter": meter, "day": day, "kind": UPLOAD}
