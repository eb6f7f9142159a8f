"""Stores' events and their per-day counters (the contract every backend provides; the routes
are `api/events.py`, the design docs/shoppers.md).

An event is a shopper's action posted by its store: a type, the shopper's UUID (never a personal
field: those stay in `storage.shoppers`), a JSON object of data and the time it was accepted.
Events are stored as they come (durable before the API answers) and left *pending*; a worker's
fold then counts each one exactly once into three kinds of per-day counter, UTC days:

- per store and day: events (`GET /api/event/store-events-amount/<store_id>`);
- per store, type and day: events and distinct shoppers (`amount/<type>`, `avg-time/<type>`);
- per store, type, day and shopper: events, what makes the distinct count and what deleting a
  shopper's events takes back out of the two above.

The statistics read the counters only: a read costs the days it covers, whatever the number of
events. Deleting a shopper's events corrects the counters by the shopper's own per-day counters.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple, Protocol

EPOCH = date(1970, 1, 1)


class EventsBusy(Exception):
    """The events are being folded or deleted by another process for longer than a deletion
    waits (MongoDB only: SQLite waits for its write lock)."""


class Event(NamedTuple):
    id: str
    store_id: str
    user_id: str
    type: str
    data: bytes  # the event's JSON object, serialised
    created_at: float  # UTC epoch seconds


class DayCount(NamedTuple):
    day: str  # YYYY-MM-DD (UTC)
    events: int
    shoppers: int  # distinct shoppers with an event that day (0 where not counted: store totals)


@dataclass(frozen=True)
class DayPage:
    """One page of a per-day series: the days of the range that have events, oldest first."""

    total_days: int
    days: list[DayCount]


def utc_day(epoch: float) -> str:
    """`YYYY-MM-DD` of the UTC day of an epoch time (the events of a batch share a few days:
    each is written out once)."""
    return _day_text(int(epoch // 86_400))  # UTC days have 86,400 seconds


@functools.lru_cache(maxsize=64)
def _day_text(day_number: int) -> str:
    return (EPOCH + timedelta(days=day_number)).isoformat()


def new_event_id() -> str:
    return str(uuid.uuid4())


def new_event_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs, as `new_event_id` gives, made several times faster
    for a batch: one read of the system's random source, no UUID objects."""
    randomness = bytearray(os.urandom(16 * count))
    for start in range(0, 16 * count, 16):
        randomness[start + 6] = (randomness[start + 6] & 0x0F) | 0x40  # version 4
        randomness[start + 8] = (randomness[start + 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = randomness.hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


class EventStore(Protocol):
    def append(self, events: list[Event]) -> None:
        """Store the events, all or none, pending; durable when this returns."""

    def fold(self, limit: int, now: float) -> int:
        """Count up to `limit` pending events into the counters, each exactly once (a fold that
        dies is taken up by the next); how many were counted."""

    def pending(self) -> int:
        """How many stored events no fold has counted yet."""

    def delete_shopper(self, store_id: str, user_id: str, now: float) -> int:
        """Delete every event of the store's shopper, counted or not, and take the counted ones
        out of the counters; how many events were deleted."""

    def delete_store(self, store_id: str) -> int:
        """Delete the store's events and counters; how many events."""

    def type_days(
        self, store_id: str, event_type: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        """The store's days with events of this type within [first_day, last_day]: events and
        distinct shoppers per day."""

    def store_days(
        self, store_id: str, first_day: str, last_day: str, offset: int, limit: int
    ) -> DayPage:
        """The store's days with events within [first_day, last_day]: events per day."""

    def events(self, store_id: str) -> Iterator[Event]:
        """Every stored event of the store (for recounts and tests; not a serving path)."""
