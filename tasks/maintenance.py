"""Beat sweepers: each finds work and acts on it, and is safe to run twice."""

from __future__ import annotations

import logging
import time

from tasks import names
from tasks.base import BaseTask
from tasks.celery_app import app
from tasks.services import get_settings, get_store

log = logging.getLogger(__name__)


@app.task(name=names.REAP_STALE_PACKAGES, base=BaseTask)
def reap_stale_packages() -> int:
    """Re-queue packages whose worker stopped heart-beating; fail them after the last attempt."""
    settings, store = get_settings(), get_store()
    now = time.time()
    stale_before = now - settings.stale_after_seconds
    reaped = 0
    for record in store.packages.find_stale(stale_before):
        if record.attempts >= settings.max_attempts:
            store.packages.fail(record.package_id, None, "WORKER_LOST", now)
        elif store.packages.requeue_stale(record.package_id, stale_before, now):
            app.send_task(
                names.PROCESS_PACKAGE,
                args=[record.package_id],
                task_id=record.package_id,
                queue=names.PACKAGES_QUEUE,
            )
        reaped += 1
    if reaped:
        log.info("reaper: %d stale packages handled", reaped)
    return reaped


@app.task(name=names.PURGE_ORPHAN_STATISTICS, base=BaseTask)
def purge_orphan_statistics() -> int:
    """Delete statistics whose package document is gone (a DELETE racing a worker)."""
    store = get_store()
    purged = 0
    for package_id in store.statistics.orphan_package_ids():
        purged += store.statistics.delete_package(package_id)
    return purged


@app.task(name=names.CLEAN_TEMP_FILES, base=BaseTask)
def clean_temp_files() -> int:
    """Remove downloads left behind by killed workers."""
    settings = get_settings()
    cutoff = time.time() - settings.temp_max_age_seconds
    removed = 0
    for path in settings.temp_dir.glob("*.zip"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
