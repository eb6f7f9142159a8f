"""Bandwidth metering: bytes uploaded and deleted per meter and UTC day (the contract every
backend provides; the routes are `api/bandwidth.py`, the design docs/bandwidth.md).

A meter is an opaque name (`account:<account id>`, `client:<keyed hash of an address>`). Each
meter's day keeps exact counters (bytes uploaded and deleted, uploads and deletions) and one
entry per transfer. Uploads are charged against a daily limit with a check-and-add that
concurrent callers cannot slip past together; a charge can later be settled to the bytes
really moved, or refunded when the transfer failed. Deletions are logged, never charged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

UPLOAD, DELETION = "upload", "deletion"


@dataclass(frozen=True)
class Transfer:
    """One upload or deletion entry of a meter's day."""

    id: str
    file_name: str  # as the client sent it
    size: int
    at: float  # UTC epoch seconds


@dataclass(frozen=True)
class DayUsage:
    """A meter's day: exact counters, and its newest entries (at most what was asked)."""

    meter: str
    day: str  # YYYY-MM-DD (UTC)
    uploaded: int = 0  # bytes charged that day (the sum of its uploads' sizes)
    deleted: int = 0  # bytes of its deletions
    upload_count: int = 0
    deletion_count: int = 0
    uploads: list[Transfer] = field(default_factory=list)  # newest first
    deletions: list[Transfer] = field(default_factory=list)  # newest first

    @property
    def has_activity(self) -> bool:
        """Whether anything is left on the day (a day refunded back to nothing has none)."""
        return bool(self.upload_count or self.deletion_count)


def account_meter(account_id: str) -> str:
    """The meter of an account's transfers."""
    return f"account:{account_id}"


def new_transfer_id() -> str:
    return uuid.uuid4().hex


class BandwidthStore(Protocol):
    def charge(
        self, meter: str, day: str, size: int, limit: int, file_name: str, at: float
    ) -> Transfer | None:
        """Atomically: when uploaded + size <= limit, add an upload of `size` to the day and
        return it; else None and nothing changes. Concurrent callers can never together pass
        the limit."""

    def settle(self, meter: str, day: str, transfer_id: str, size: int) -> None:
        """Set the size of a charged upload to `size` (the bytes finally moved; may be lower or
        higher than charged, with no limit check), adjusting the day's total. Unknown id:
        nothing."""

    def refund(self, meter: str, day: str, transfer_id: str) -> None:
        """Remove a charged upload and its bytes (a transfer that failed). Unknown id: nothing."""

    def log_deletion(self, meter: str, day: str, file_name: str, size: int, at: float) -> Transfer:
        """Record a deletion of `size` bytes on the day (never checked against a limit)."""

    def usage(self, meter: str, day: str, listed: int) -> DayUsage:
        """The day's counters and its `listed` newest entries of each kind; all zeros and empty
        when nothing is recorded."""

    def usages(self, meter: str, first_day: str, last_day: str, listed: int) -> list[DayUsage]:
        """`usage` of each day within [first_day, last_day] that has a record, newest first."""

    def reset(self, meter: str, day: str) -> None:
        """The day's uploads, deletions and totals gone."""

    def set_limit(self, meter: str, limit: int | None) -> None:
        """The meter's own daily limit in bytes; None: back to the default."""

    def limit(self, meter: str) -> int | None:
        """The meter's own daily limit, or None when it has none (the default applies)."""

    def delete_meter(self, meter: str) -> None:
        """Everything of the meter: its days, entries and limit (its account was deleted)."""
