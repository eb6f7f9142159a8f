"""Beat sweepers: each finds work and acts on it, and is safe to run twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from celery.signals import worker_ready

from storage import Status, scratch
from tasks import names
from tasks.base import BaseTask
from tasks.celery_app import app
from tasks.services import get_settings, get_store

log = logging.getLogger(__name__)


@app.task(name=names.REAP_STALE_PACKAGES, base=BaseTask)
def reap_stale_packages() -> int:
    """Re-queue packages whose worker went silent (failing them after the last attempt), and
    send again packages whose broker message may have been lost."""
    settings, store = get_settings(), get_store()
    now = time.time()
    handled = _reap_silent(settings, store, now) + _resend_waiting(settings, store, now)
    handled += _sweep_link_keys(settings, store, now)
    if handled:
        log.info("reaper: %d packages handled", handled)
    return handled


def _reap_silent(settings, store, now: float) -> int:
    stale_before = now - settings.stale_after_seconds
    handled = 0
    for record in store.packages.find_stale(stale_before):
        if record.attempts >= settings.max_attempts:
            if store.packages.fail_stale(record.package_id, stale_before, "WORKER_LOST", now):
                store.statistics.delete_package(record.package_id)  # nothing was published
                store.app_files.delete_package(record.package_id)
        elif store.packages.requeue_stale(record.package_id, stale_before, now):
            _send(record.package_id)
        handled += 1
    return handled


def _resend_waiting(settings, store, now: float) -> int:
    """A QUEUED package whose last message is old may have lost it (a crash between the API's
    store and send, a broker restart): send once more; a duplicate message is harmless."""
    sent_before = now - settings.resend_after_seconds
    resent = 0
    for record in store.packages.find_unsent(sent_before):
        if store.packages.mark_sent(record.package_id, sent_before, now):
            _send(record.package_id)
            resent += 1
    return resent


def _sweep_link_keys(settings, store, now: float) -> int:
    """Keys and uploads of ended packages left by a process that died between the end and the
    shredding, and uploads half received by an API process that died."""
    if store.links is None:
        return 0

    def is_live(package_id: str) -> bool:
        record = store.packages.get(package_id)
        return record is not None and record.status not in (Status.PROCESSED, Status.ERRORED)

    older_than = now - settings.stale_after_seconds
    return store.links.sweep(is_live, older_than) + store.links.uploads.sweep(is_live, older_than)


def _send(package_id: str) -> None:
    app.send_task(**names.package_message(package_id))


@app.task(name=names.PURGE_ORPHAN_APP_FILES, base=BaseTask)
def purge_orphan_app_files() -> int:
    """Delete app files whose package document is gone, and app file bytes no record names
    (a writer that died halfway). Reads the app files' records: one small one per generation."""
    return get_store().app_files.purge_orphans()


@app.task(name=names.SWEEP_TOMBSTONES, base=BaseTask)
def sweep_tombstones() -> int:
    """Remove what deleted, failed and expired packages left (a DELETE racing a worker, a process
    dying between a package's end and its clean-up), then their tombstones.

    Only tombstones older than STALE_AFTER_SECONDS: a run that lost its claim stops at its next
    heartbeat, so by then nothing more of it is written. Reads the tombstones by an index, never
    the statistics collection. Returns how many tombstones were handled.
    """
    settings, store = get_settings(), get_store()
    tombstones = store.packages.find_tombstones(time.time() - settings.stale_after_seconds)
    for package_id, at in tombstones:
        _remove_leftovers(store, package_id)
        store.packages.clear_tombstone(package_id, at)
    return len(tombstones)


def _remove_leftovers(store, package_id: str) -> None:
    """Statistics and app files of a package that no run may still be writing."""
    record = store.packages.get(package_id)
    if record is None:
        keep = None
    elif record.status in (Status.PROCESSED, Status.ERRORED):
        keep = record.generation  # what was published stays; other generations are leftovers
    else:
        return  # submitted again: its run owns what it writes and cleans up after itself
    store.statistics.delete_package(package_id, keep_generation=keep)
    store.app_files.delete_package(package_id, keep_generation=keep)


@app.task(name=names.PURGE_EXPIRED_PACKAGES, base=BaseTask)
def purge_expired_packages() -> int:
    """Delete packages that ended more than PACKAGE_RETENTION_DAYS ago, with their statistics,
    app files and link keys (nothing when the retention is 0). Returns how many."""
    settings, store = get_settings(), get_store()
    if settings.package_retention_days <= 0:
        return 0
    now = time.time()
    finished_before = now - settings.package_retention_days * 86_400
    deleted = 0
    for record in store.packages.find_expired(finished_before):
        if store.packages.delete_expired(record.package_id, finished_before, now):
            store.statistics.delete_package(record.package_id)
            store.app_files.delete_package(record.package_id)
            deleted += 1
    if deleted:
        log.info("retention: %d ended packages deleted", deleted)
    return deleted


FOLD_BATCH = 10_000  # audit records counted per store round trip
FOLD_MAX_PER_RUN = 1_000_000  # then the next run goes on: one run never holds the sweeper long


@app.task(name=names.FOLD_AUDIT_LOG, base=BaseTask)
def fold_audit_log() -> int:
    """Count the audit log's new records into the per-day usage counters, each exactly once."""
    folded = _fold_until_done(get_store().audit.fold, FOLD_BATCH)
    if folded:
        log.info("audit log: %d calls counted", folded)
    return folded


def _fold_until_done(fold: Callable[[int, float], int], step: int) -> int:
    """Fold steps of `step` until nothing is left or FOLD_MAX_PER_RUN; how many were counted."""
    folded = 0
    while folded < FOLD_MAX_PER_RUN and (done := fold(step, time.time())):
        folded += done
    return folded


@app.task(name=names.FOLD_EVENTS, base=BaseTask)
def fold_events() -> int:
    """Count the stores' new events into their per-day counters, each exactly once."""
    folded = _fold_until_done(get_store().events.fold, get_settings().events_fold_batch)
    if folded:
        log.info("events: %d counted", folded)
    return folded


@app.task(name=names.EXPIRE_AUDIT_RECORDS, base=BaseTask)
def expire_audit_records() -> int:
    """Delete counted audit records older than AUDIT_RETENTION_DAYS (the counters stay)."""
    settings, store = get_settings(), get_store()
    cutoff = datetime.fromtimestamp(time.time(), UTC).date()
    before_day = (cutoff - timedelta(days=settings.audit_retention_days)).isoformat()
    expired = 0
    while removed := store.audit.expire(before_day, FOLD_BATCH):
        expired += removed
    return expired


@app.task(name=names.CLEAN_TEMP_FILES, base=BaseTask)
def clean_temp_files() -> int:
    """Remove downloads that no live worker run holds (left by killed workers)."""
    return scratch.sweep(get_settings().temp_dir)


@worker_ready.connect
def _clean_temp_files_at_start(**_kwargs) -> None:
    """A worker starting on this host removes what its killed predecessors left behind."""
    scratch.sweep(get_settings().temp_dir)
