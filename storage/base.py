"""The storage interfaces: what every backend (SQLite, MongoDB) provides, and the records returned.

Times are UTC epoch seconds (floats). Every state change is conditional, so a redelivered task,
a second worker or the reaper racing the worker cannot double or regress anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from storage.audit import AuditLog
    from storage.bandwidth import BandwidthStore
    from storage.events import EventStore
    from storage.identity import IdentityStore
    from storage.link_vault import LinkVault
    from storage.projects import ProjectStore
    from storage.upload_digests import UploadDigests


class Status(StrEnum):
    """Where a package is. QUEUED -> DOWNLOADING -> ANALYZING -> PROCESSED, or ERRORED."""

    QUEUED = "QUEUED"
    DOWNLOADING = "DOWNLOADING"
    ANALYZING = "ANALYZING"
    PROCESSED = "PROCESSED"
    ERRORED = "ERRORED"


ACTIVE_STATUSES = (Status.DOWNLOADING, Status.ANALYZING)


class EnqueueOutcome(StrEnum):
    """What `PackageRepository.enqueue` did."""

    CREATED = "CREATED"  # new package document, status QUEUED
    REQUEUED = "REQUEUED"  # an ERRORED package was reset to QUEUED with the new sealed link
    EXISTING = "EXISTING"  # already queued, running or processed: nothing changed


@dataclass(frozen=True)
class PackageRecord:
    """A package document as stored (no plaintext secret is ever part of it)."""

    package_id: str
    status: Status
    error_code: str | None = None
    sealed_link: bytes | None = None
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    attempts: int = 0
    claim_token: str | None = None
    generation: int = 0  # the published statistics generation; 0 means none yet
    progress: int = 0  # 0-100
    bytes_done: int | None = None
    bytes_total: int | None = None
    sent_at: float | None = None  # when a broker message for it was last sent (see find_unsent)


class PackageRepository(Protocol):
    """Package documents: the source of truth for status."""

    def enqueue(self, package_id: str, sealed_link: bytes, now: float) -> EnqueueOutcome:
        """Create as QUEUED, or reset an ERRORED one to QUEUED; otherwise change nothing.

        The reset is a fresh start: the new sealed link, `queued_at=now`, `attempts=0`, and the
        error code, claim, times, progress and byte counts cleared; `generation` is kept.
        CREATED and REQUEUED set `sent_at=now` (the caller sends the message next); EXISTING
        leaves it alone.
        """

    def get(self, package_id: str) -> PackageRecord | None:
        """The package, or None."""

    def claim(
        self, package_id: str, token: str, now: float, stale_before: float
    ) -> PackageRecord | None:
        """Take the package for one worker run.

        Succeeds when it is QUEUED, or active with `heartbeat_at < stale_before` (its worker
        died). Sets DOWNLOADING, `claim_token=token`, `attempts += 1`, `started_at` and
        `heartbeat_at` to now, progress 0. Returns the updated record, or None (not claimable).
        """

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
        """Record progress and a heartbeat; False when the claim is lost (deleted, reaped).

        `step` is DOWNLOADING or ANALYZING (anything else is a ValueError); progress is clamped
        to 0-100. A heartbeat that changes no value still returns True while the claim holds.
        """

    def publish(self, package_id: str, token: str, generation: int, now: float) -> bool:
        """PROCESSED with that generation, link wiped, claim released; only for the claimer."""

    def fail(self, package_id: str, token: str | None, code: str, now: float) -> bool:
        """ERRORED with the code, link wiped, claim released.

        With a token: only for that claimer. With None: for any QUEUED or active package
        (the API after a broker error, the reaper).
        """

    def requeue_stale(self, package_id: str, stale_before: float, now: float) -> bool:
        """An active package with `heartbeat_at < stale_before` back to QUEUED (claim released).

        It keeps its `queued_at` (its place in line) and `attempts`; progress and heartbeat reset.
        Sets `sent_at=now`: the reaper sends its message right after.
        """

    def release(
        self, package_id: str, token: str, now: float, refund_attempt: bool = False
    ) -> bool:
        """The claimer gives the package back for a later attempt; only for the claimer.

        Only when it is DOWNLOADING or ANALYZING with `claim_token == token`: QUEUED, claim
        released, heartbeat, progress and byte counts cleared, `sent_at=now`; it keeps its
        `queued_at` and `attempts` (`attempts - 1` with `refund_attempt`, never below 0: a run
        the store stopped, not the package, does not count). False otherwise (another worker's
        claim, deleted, finished).
        """

    def find_unsent(self, sent_before: float, limit: int = 100) -> list[PackageRecord]:
        """QUEUED packages with `sent_at < sent_before` (or never sent), oldest `sent_at` first.

        Never-sent packages (`sent_at` None) come first; ties by package id.
        """

    def mark_sent(self, package_id: str, sent_before: float, now: float) -> bool:
        """Set `sent_at=now` only when QUEUED with `sent_at < sent_before` (or None).

        The caller sends the message only on True, so two reapers racing send it once (with
        `now >= sent_before`, a second call with the same `sent_before` returns False).
        """

    def fail_stale(self, package_id: str, stale_before: float, code: str, now: float) -> bool:
        """`fail(package_id, None, code, now)`, but never for a package whose worker is alive.

        Only when it is QUEUED, or active with `heartbeat_at < stale_before`: ERRORED with the
        code, `finished_at=now`, link wiped, claim released. False otherwise (fresh heartbeat,
        finished, unknown).
        """

    def find_stale(self, stale_before: float, limit: int = 100) -> list[PackageRecord]:
        """Active packages whose heartbeat is older than `stale_before`."""

    def queue_position(self, package_id: str) -> tuple[int, int]:
        """(QUEUED packages queued before this one, all QUEUED packages).

        Order is `queued_at`, then package id; a package not QUEUED (or unknown) is at 0.
        """

    def delete(self, package_id: str, now: float | None = None) -> bool:
        """Remove the package document; True when one existed.

        Leaves a tombstone `(package_id, now)` (default: the current time), even when no document
        existed: the sweeper then removes what a worker racing the deletion may still write.
        """

    def find_tombstones(self, before: float, limit: int = 100) -> list[tuple[str, float]]:
        """`(package_id, at)` of tombstones left before `before`, oldest first (ties by id).

        `delete`, `delete_expired`, and `fail` and `fail_stale` when they change a package, leave
        one (a backend that cannot write both at once writes the tombstone first, so one may
        name a package that did not change: the sweeper checks the package's state itself).
        """

    def clear_tombstone(self, package_id: str, at: float) -> bool:
        """Remove the package's tombstone if it is still the one left at `at` (not a newer one)."""

    def find_expired(self, finished_before: float, limit: int = 100) -> list[PackageRecord]:
        """PROCESSED or ERRORED packages with `finished_at < finished_before`, oldest first."""

    def delete_expired(self, package_id: str, finished_before: float, now: float) -> bool:
        """`delete`, only while the package is PROCESSED or ERRORED with `finished_at <
        finished_before` (a package submitted again meanwhile is kept); leaves a tombstone."""

    def count_by_status(self) -> dict[Status, int]:
        """How many packages are in each status; every status is a key (0 when none)."""

    def count_by_error_code(self) -> dict[str, int]:
        """How many ERRORED packages there are per error code (only codes that occur)."""


class StatisticsRepository(Protocol):
    """Sealed statistics documents keyed (package id, generation, view id)."""

    def put_many(self, package_id: str, generation: int, items: Iterable[tuple[str, bytes]]) -> int:
        """Upsert `(view_id, sealed blob)` pairs in batches; returns how many were written."""

    def get(self, package_id: str, generation: int, view_id: str) -> bytes | None:
        """One indexed read."""

    def get_current(
        self, package_id: str, view_id: str
    ) -> tuple[Status, str | None, int, bytes | None] | None:
        """The package's status, error code, published generation and that generation's view
        `view_id` (None if it has none), read together; None when there is no such package.

        What every API data read needs, in one read where the backend allows it (SQLite: one
        statement; MongoDB: the package document, then the view).
        """

    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's documents except `keep_generation`; returns how many."""

    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete exactly one generation (what an unpublished run wrote); returns how many."""

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have statistics but no package document.

        An audit that reads the whole collection: never scheduled (the tombstone sweeper finds
        what a deletion left without it); for operators and tests.
        """


@dataclass(frozen=True)
class AppFileRecord:
    """The Dumpus app's data file of one package generation, as stored (never its plaintext).

    The file is the AES-256-CBC ciphertext the app downloads; `iv` (32 hex digits, not secret)
    is stored beside it. A package the app cannot use has a record with no file: `iv` None and
    `error_code` saying why (`MISSING_USER_DATA`).
    """

    package_id: str
    generation: int
    iv: str | None
    size: int = 0
    error_code: str | None = None


class AppFileRepository(Protocol):
    """Encrypted app data files keyed (package id, generation), possibly larger than 16 MB."""

    def put(self, package_id: str, generation: int, iv: str, blob: bytes) -> AppFileRecord:
        """Store (or replace) the file of a generation, whole or not at all."""

    def put_unavailable(self, package_id: str, generation: int, error_code: str) -> None:
        """Record that this generation has no file, and why."""

    def get(self, package_id: str, generation: int) -> AppFileRecord | None:
        """The record of a generation, or None."""

    def open(self, package_id: str, generation: int) -> BinaryIO | None:
        """The stored ciphertext as a binary stream (the caller closes it), or None."""

    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's files except `keep_generation`; returns how many records."""

    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete exactly one generation (what an unpublished run wrote); returns how many."""

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have files but no package document."""

    def purge_orphans(self, limit: int = 100) -> int:
        """Delete the files of up to `limit` orphan package ids (absence re-checked), and any
        stored bytes no record names; returns how many records were deleted."""


class Store(Protocol):
    """One backend: its repositories plus health and lifecycle.

    `links` seals package links under per-package keys; `open_store` always sets it, and then
    every end of a package (publish, fail, fail_stale, delete) shreds that package's keys.
    """

    # Read-only in the protocol, so a backend's more precise attribute types still match it.
    @property
    def packages(self) -> PackageRepository: ...
    @property
    def statistics(self) -> StatisticsRepository: ...
    @property
    def app_files(self) -> AppFileRepository: ...
    @property
    def links(self) -> LinkVault | None: ...
    @property
    def identity(self) -> IdentityStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def events(self) -> EventStore: ...
    @property
    def upload_digests(self) -> UploadDigests: ...
    @property
    def bandwidth(self) -> BandwidthStore: ...
    @property
    def projects(self) -> ProjectStore: ...

    def compact(self) -> None:
        """Leave no stale copy of ended packages in the backend's own files (where it can)."""

    def ping(self, timeout: float | None = None) -> bool:
        """True when the backend answers (within `timeout` seconds where it can bound that)."""

    def ensure_indexes(self) -> None:
        """Create tables / indexes (idempotent); called at start-up."""

    def close(self) -> None:
        """Release the connection."""
