"""Stores' events on MongoDB, where a fold spans several documents without a transaction.

Folds and deletions take turns under one lease (`event_lease`, given up after `LEASE_SECONDS`
if its holder dies). A fold claims pending events (`claim`), adds them to each counter at most
once (a counter remembers the last claims it took, `applied`), then marks them counted. Whoever
takes the lease next first finishes any claim a dead fold left, so an event is counted exactly
once. A deletion takes a shopper's counted events back out of the counters by the shopper's
per-day counters, each at most once (under the token `delete-<gen>` of that per-day counter),
then deletes the events: a deletion cut short and run again takes nothing out twice.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from bson import Binary
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.events import DayCount, DayPage, Event, EventsBusy, utc_day

LEASE_SECONDS = 120.0
LEASE_WAIT_SECONDS = 10.0
LEASE_POLL_SECONDS = 0.05
REMEMBERED_CLAIMS = 64  # per counter: far more than folds that can die in a row
_LEASE_ID = "events"


class Counts(NamedTuple):
    """What a fold adds: events per (store, type, day, shopper)."""

    per_shopper_day: Counter[tuple[str, str, str, str]]

    def per_type_day(self) -> Counter[tuple[str, str, str]]:
        totals: Counter[tuple[str, str, str]] = Counter()
        for (store_id, event_type, day, _user), events in self.per_shopper_day.items():
            totals[store_id, event_type, day] += events
        return totals

    def per_store_day(self) -> Counter[tuple[str, str]]:
        totals: Counter[tuple[str, str]] = Counter()
        for (store_id, _type, day, _user), events in self.per_shopper_day.items():
            totals[store_id, day] += events
        return totals


def tally(events: Iterable[tuple[str, str, str, str]]) -> Counts:
    """Counts of (store_id, type, day, user_id) rows."""
    return Counts(Counter(events))


class MongoEventStore:
    def __init__(self, db: Database):
        self._events = db["events"]
        self._shopper_days = db["event_shopper_days"]
        self._type_days = db["event_type_days"]
        self._store_days = db["event_store_days"]
        self._lease = db["event_lease"]

    def ensure_indexes(self) -> None:
        self._events.create_index([("counted", ASCENDING), ("claim", ASCENDING)])
        self._events.create_index([("store_id", ASCENDING), ("user_id", ASCENDING)])
        self._shopper_days.create_index([("store_id", ASCENDING), ("user_id", ASCENDING)])
        self._shopper_days.create_index(
            [("store_id", ASCENDING), ("type", ASCENDING), ("day", ASCENDING)]
        )
        self._type_days.create_index(
            [("store_id", ASCENDING), ("type", ASCENDING), ("day", ASCENDING)]
        )
        self._store_days.create_index([("store_id", ASCENDING), ("day", ASCENDING)])

    def append(self, events: list[Event]) -> None:
        if events:
            self._events.insert_many([_document(event) for event in events], ordered=False)

    def fold(self, limit: int, now: float) -> int:
        with self._leased(now, wait=0.0) as held:
            if not held:
                return 0
            folded = self._finish_dead_claims()
            chosen = [
                doc["_id"] for doc in self._events.find({"claim": None}, {"_id": 1}).limit(limit)
            ]
            if not chosen:
                return folded
            claim = uuid.uuid4().hex
            self._events.update_many(
                {"_id": {"$in": chosen}, "claim": None}, {"$set": {"claim": claim}}
            )
            return folded + self._apply(claim)

    def _finish_dead_claims(self) -> int:
        """Under the lease, a claimed event not yet counted belongs to a fold that died."""
        claims = self._events.distinct("claim", {"counted": False, "claim": {"$ne": None}})
        return sum(self._apply(claim) for claim in sorted(claims))

    def _apply(self, claim: str) -> int:
        fields = {"store_id": 1, "type": 1, "day": 1, "user_id": 1}
        documents = list(self._events.find({"claim": claim, "counted": False}, fields))
        counts = tally((d["store_id"], d["type"], d["day"], d["user_id"]) for d in documents)
        # The shoppers' per-day counters first: a type-day counter recounts its shoppers from them.
        for (store_id, event_type, day, user_id), events in counts.per_shopper_day.items():
            _add_once(
                self._shopper_days,
                _shopper_day_id(store_id, user_id, event_type, day),
                {"store_id": store_id, "user_id": user_id, "type": event_type, "day": day},
                events,
                claim,
                on_insert={"gen": uuid.uuid4().hex},
            )
        for (store_id, event_type, day), events in counts.per_type_day().items():
            shoppers = self._shoppers(store_id, event_type, day)
            _add_once(
                self._type_days,
                _type_day_id(store_id, event_type, day),
                {"store_id": store_id, "type": event_type, "day": day, "shoppers": shoppers},
                events,
                claim,
            )
        for (store_id, day), events in counts.per_store_day().items():
            fields_set = {"store_id": store_id, "day": day}
            _add_once(self._store_days, _store_day_id(store_id, day), fields_set, events, claim)
        self._events.update_many({"claim": claim}, {"$set": {"counted": True}})
        return len(documents)

    def _shoppers(self, store_id: str, event_type: str, day: str) -> int:
        query = {"store_id": store_id, "type": event_type, "day": day}
        return self._shopper_days.count_documents(query)

    def pending(self) -> int:
        return self._events.count_documents({"counted": False})

    def delete_shopper(self, store_id: str, user_id: str, now: float) -> int:
        with self._leased(now, wait=LEASE_WAIT_SECONDS) as held:
            if not held:
                raise EventsBusy(store_id)
            self._finish_dead_claims()
            for counted in self._shopper_days.find({"store_id": store_id, "user_id": user_id}):
                self._take_out(counted)
            deleted = self._events.delete_many({"store_id": store_id, "user_id": user_id})
            return deleted.deleted_count

    def _take_out(self, counted: dict[str, Any]) -> None:
        """Take one per-day counter of a shopper out of its store's counters, once."""
        store_id, event_type, day = counted["store_id"], counted["type"], counted["day"]
        token, events = f"delete-{counted['gen']}", -counted["events"]
        others = self._shoppers(store_id, event_type, day) - 1
        type_day = {"store_id": store_id, "type": event_type, "day": day, "shoppers": others}
        _add_once(self._type_days, _type_day_id(store_id, event_type, day), type_day, events, token)
        store_day = {"store_id": store_id, "day": day}
        _add_once(self._store_days, _store_day_id(store_id, day), store_day, events, token)
        self._shopper_days.delete_one({"_id": counted["_id"]})

    def delete_store(self, store_id: str) -> int:
        with self._leased(time.time(), wait=LEASE_WAIT_SECONDS) as held:
            if not held:
                raise EventsBusy(store_id)
            for collection in (self._shopper_days, self._type_days, self._store_days):
                collection.delete_many({"store_id": store_id})
            return self._events.delete_many({"store_id": store_id}).deleted_count

    def type_days(
        self, store_id: str, event_type: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        query = {"store_id": store_id, "type": event_type}
        return _page(self._type_days, query, first_day, last_day, offset, limit)

    def store_days(
        self, store_id: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        return _page(self._store_days, {"store_id": store_id}, first_day, last_day, offset, limit)

    def events(self, store_id: str) -> Iterator[Event]:
        for doc in self._events.find({"store_id": store_id}).sort("created_at", ASCENDING):
            yield Event(
                doc["_id"], doc["store_id"], doc["user_id"], doc["type"], bytes(doc["data"]),
                doc["created_at"],
            )  # fmt: skip

    @contextlib.contextmanager
    def _leased(self, now: float, wait: float) -> Iterator[bool]:
        owner, deadline = uuid.uuid4().hex, time.monotonic() + wait
        started = time.monotonic()
        while not self._take_lease(owner, now + time.monotonic() - started):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(LEASE_POLL_SECONDS)
        try:
            yield True
        finally:
            self._lease.update_one({"_id": _LEASE_ID, "owner": owner}, {"$set": {"until": 0.0}})

    def _take_lease(self, owner: str, now: float) -> bool:
        try:
            self._lease.update_one(
                {"_id": _LEASE_ID, "until": {"$lt": now}},
                {"$set": {"owner": owner, "until": now + LEASE_SECONDS}},
                upsert=True,
            )
        except DuplicateKeyError:  # the lease exists and is held
            return False
        return True


def _add_once(
    collection: Collection,
    counter_id: str,
    fields: dict[str, Any],
    events: int,
    token: str,
    on_insert: dict[str, Any] | None = None,
) -> None:
    """Add `events` to one counter unless it took `token` already (among its last ones)."""
    update: dict[str, Any] = {
        "$inc": {"events": events},
        "$set": fields,
        "$push": {"applied": {"$each": [token], "$slice": -REMEMBERED_CLAIMS}},
    }
    if on_insert:
        update["$setOnInsert"] = on_insert
    # DuplicateKeyError: the counter exists and took this token already
    with contextlib.suppress(DuplicateKeyError):
        collection.update_one({"_id": counter_id, "applied": {"$ne": token}}, update, upsert=True)


def _page(
    collection: Collection, query: dict[str, Any], first_day: str, last_day: str, offset: int,
    limit: int,
) -> DayPage:  # fmt: skip
    query = {**query, "day": {"$gte": first_day, "$lte": last_day}, "events": {"$gt": 0}}
    total = collection.count_documents(query)
    found = collection.find(query, {"day": 1, "events": 1, "shoppers": 1}).sort("day", ASCENDING)
    days = [
        DayCount(doc["day"], doc["events"], doc.get("shoppers", 0))
        for doc in found.skip(offset).limit(limit)
    ]
    return DayPage(total, days)


def _shopper_day_id(store_id: str, user_id: str, event_type: str, day: str) -> str:
    return f"{store_id}|{user_id}|{day}|{event_type}"


def _type_day_id(store_id: str, event_type: str, day: str) -> str:
    return f"{store_id}|{day}|{event_type}"


def _store_day_id(store_id: str, day: str) -> str:
    return f"{store_id}|{day}"


def _document(event: Event) -> dict[str, Any]:
    return {
        "_id": event.id,
        "store_id": event.store_id,
        "user_id": event.user_id,
        "type": event.type,
        "day": utc_day(event.created_at),
        "created_at": event.created_at,
        "data": Binary(event.data),
        "claim": None,
        "counted": False,
    }
