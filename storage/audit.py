"""The audit log of API calls and the per-day call counters folded from it (the contract).

The API appends records in batches (`api.audit`); a worker folds them, exactly once, into per-day
counters for every call (`all`), per account and per organization (`tasks.maintenance`); the
trends route reads only the counters, so a read costs O(days) whatever the number of calls.
Raw records are deleted once folded and older than the retention. Days are UTC `YYYY-MM-DD`.

Both backends keep the raw records as *batches*: the records of one append and one day, at most
`BATCH_RECORDS` of them, stored as one row or document holding their columns packed as deflated
JSON (`pack`). One API call costs about a microsecond to store this way, against several for a
row or a document of its own with its index entries; batches are folded, expired and read whole
(`records` gives the raw records back, oldest first).
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal, NamedTuple, Protocol, TypeVar

import orjson

Kind = Literal["all", "account", "organization"]
ALL: Kind = "all"
ACCOUNT: Kind = "account"
ORGANIZATION: Kind = "organization"


class AuditRecord(NamedTuple):
    """One API call: who (None when anonymous), which route template, its answer and when (a
    named tuple: the API makes one per request, and a tuple is the cheapest record to make)."""

    day: str
    at: float
    account_id: str | None
    organization_id: str | None
    route: str
    method: str
    status: int
    duration_ms: float | None


Id = TypeVar("Id")
BATCH_RECORDS = 10_000  # records per stored batch: a MongoDB document stays far under 16 MB
_COLUMNS = len(AuditRecord._fields)


class Batch(NamedTuple):
    """Records of one day, ready to store: their day, how many, their packed columns."""

    day: str
    records: int
    body: bytes


def batches(records: list[AuditRecord]) -> Iterator[Batch]:
    """The records as batches of one day each, at most `BATCH_RECORDS` records, in their order
    within each day."""
    by_day: dict[str, list[AuditRecord]] = {}
    for record in records:
        by_day.setdefault(record.day, []).append(record)
    for day, of_day in by_day.items():
        for start in range(0, len(of_day), BATCH_RECORDS):
            chunk = of_day[start : start + BATCH_RECORDS]
            yield Batch(day, len(chunk), pack(chunk))


def pack(records: list[AuditRecord]) -> bytes:
    """The records' columns as one JSON array of arrays (day, at, account_id, ...), deflated
    (zlib, level 1: about 21 bytes a record instead of 145, for 0.7 us of CPU)."""
    return zlib.compress(orjson.dumps(list(zip(*records, strict=True))), 1)


def _columns(body: bytes) -> list[list]:
    return orjson.loads(zlib.decompress(body))


def unpack(body: bytes) -> list[AuditRecord]:
    """The records `pack` was given, in order."""
    columns = _columns(body)
    if len(columns) != _COLUMNS:
        raise ValueError("an audit batch with the wrong number of columns")
    return list(itertools.starmap(AuditRecord, zip(*columns, strict=True)))


def callers(body: bytes) -> Iterator[tuple[str, str | None, str | None]]:
    """(day, account, organization) of each record of a packed batch: what a fold counts."""
    day, _at, account_ids, organization_ids, *_rest = _columns(body)
    return zip(day, account_ids, organization_ids, strict=True)


def whole_batches(candidates: Iterable[tuple[Id, int]], limit: int) -> tuple[list[Id], int]:
    """The ids of the batches one step takes, from (id, records) in order, and how many records
    they hold: as many batches as fit in `limit` records, and always the first."""
    taken: list[Id] = []
    total = 0
    for batch_id, size in candidates:
        if taken and total + size > limit:
            break
        taken.append(batch_id)
        total += size
    return taken, total


def counter_keys(day: str, account_id: str | None, organization_id: str | None):
    """The counters one call adds to: every call's, its account's, its organization's."""
    yield ALL, "", day
    if account_id:
        yield ACCOUNT, account_id, day
    if organization_id:
        yield ORGANIZATION, organization_id, day


def tally(calls: Iterable[tuple[str, str | None, str | None]]) -> Counter[tuple[str, str, str]]:
    """(kind, subject, day) -> calls, over (day, account, organization) of each call."""
    counts: Counter[tuple[str, str, str]] = Counter()
    # Calls are counted per (day, account, organization) first, at C speed: far fewer of those.
    for (day, account_id, organization_id), calls_of_caller in Counter(calls).items():
        for key in counter_keys(day, account_id, organization_id):
            counts[key] += calls_of_caller
    return counts


class AuditLog(Protocol):
    def append(self, records: list[AuditRecord]) -> None:
        """Store records, all or none."""

    def fold(self, limit: int, now: float) -> int:
        """Add records not yet counted to the daily counters, each exactly once (a fold that
        died midway is finished by the next one), in whole batches: as many as fit in `limit`
        records, at least one; returns how many records were counted."""

    def expire(self, before_day: str, limit: int) -> int:
        """Delete counted records of days before `before_day`, in whole batches (as many as fit
        in `limit` records, at least one); returns how many records were deleted."""

    def records(self) -> Iterator[AuditRecord]:
        """Every raw record still kept, oldest batch first (for operators and tests)."""

    def daily_calls(
        self, kind: Kind, subject: str, first_day: str, last_day: str
    ) -> dict[str, int]:
        """Calls per day from `first_day` to `last_day` (both included) for one counter; days
        without calls are absent."""

    def pending(self) -> int:
        """Records not yet counted."""
