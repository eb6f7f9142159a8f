"""Beat sweepers: each finds work and acts on it, and is safe to run twice."""

from __future__ import annotations

import logging
import time

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
    """Keys of ended packages left by a process that died between the end and the shredding."""
    if store.links is None:
        return 0

    def is_live(package_id: str) -> bool:
        record = store.packages.get(package_id)
        return record is not None and record.status not in (Status.PROCESSED, Status.ERRORED)

    return store.links.sweep(is_live, older_than=now - settings.stale_after_seconds)


def _send(package_id: str) -> None:
    app.send_task(**names.package_message(package_id))


@app.task(name=names.PURGE_ORPHAN_STATISTICS, base=BaseTask)
def purge_orphan_statistics() -> int:
    """Delete statistics and app files whose package document is gone (a DELETE racing a
    worker), and app file bytes that no record names."""
    store = get_store()
    return store.statistics.purge_orphans() + store.app_files.purge_orphans()


@app.task(name=names.CLEAN_TEMP_FILES, base=BaseTask)
def clean_temp_files() -> int:
    """Remove downloads that no live worker run holds (left by killed workers)."""
    return scratch.sweep(get_settings().temp_dir)


@worker_ready.connect
def _clean_temp_files_at_start(**_kwargs) -> None:
    """A worker starting on this host removes what its killed predecessors left behind."""
    scratch.sweep(get_settings().temp_dir)
