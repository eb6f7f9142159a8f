"""The audit log of API calls and the per-day call counters folded from it (the contract).

The API appends records in batches (`api.audit`); a worker folds them, exactly once, into per-day
counters for every call (`all`), per account and per organization (`tasks.maintenance`); the
trends route reads only the counters, so a read costs O(days) whatever the number of calls.
Raw records are deleted once folded and older than the retention. Days are UTC `YYYY-MM-DD`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal, NamedTuple, Protocol

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
    for day, account_id, organization_id in calls:
        counts.update(counter_keys(day, account_id, organization_id))
    return counts


class AuditLog(Protocol):
    def append(self, records: list[AuditRecord]) -> None:
        """Store records, all or none."""

    def fold(self, limit: int, now: float) -> int:
        """Add up to `limit` records not yet counted to the daily counters, each exactly once
        (a fold that died midway is finished by the next one); returns how many were counted."""

    def expire(self, before_day: str, limit: int) -> int:
        """Delete up to `limit` counted records of days before `before_day`; returns how many."""

    def daily_calls(
        self, kind: Kind, subject: str, first_day: str, last_day: str
    ) -> dict[str, int]:
        """Calls per day from `first_day` to `last_day` (both included) for one counter; days
        without calls are absent."""

    def pending(self) -> int:
        """Records not yet counted."""
