"""Projects' statistics, recounted by workers, never on a request; and the trash's retention
(issue 15, design in docs/projects.md).

Every file event (upload, new version, delete, restore, purge) calls `want_recount`, and only
the first of a burst enqueues `recount_stats`: the task recounts, stores the document stamped
with the generation it started from, and recounts again while events kept coming, so a burst of
1,000 events costs a handful of recounts. A recount whose task was lost (the broker was down
when the event came, a worker was killed) is sent again by beat (`resend_project_recounts`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from storage.file_bytes import ProjectFileBytes, purge_file
from storage.projects import ProjectStore
from tasks import names
from tasks.base import BaseTask
from tasks.celery_app import app
from tasks.services import get_settings, get_store

log = logging.getLogger(__name__)
RESEND_BATCH = 1000  # pending recounts sent again per beat run
PURGE_BATCH = 200  # expired trashed files purged per step
DAY_SECONDS = 86_400


@app.task(name=names.RECOUNT_PROJECT_STATS, base=BaseTask)
def recount_stats(project_id: str) -> int:
    """The project's statistics recounted until no event came in meanwhile; how many times."""
    return recount_until_settled(get_store().projects, project_id, time.time)


def recount_until_settled(
    projects: ProjectStore, project_id: str, clock: Callable[[], float]
) -> int:
    rounds = 0
    while True:
        generation = projects.start_recount(project_id)
        figures = projects.recount(project_id)
        projects.put_stats(replace(figures, generation=generation, computed_at=clock()))
        rounds += 1
        if not projects.finish_recount(project_id, generation):
            return rounds


@app.task(name=names.RESEND_PROJECT_RECOUNTS, base=BaseTask)
def resend_project_recounts() -> int:
    """Recounts pending for longer than `RECOUNT_RESEND_SECONDS`, sent again (a duplicate
    task only recounts once more)."""
    settings, projects = get_settings(), get_store().projects
    stale = projects.pending_recounts(time.time() - settings.recount_resend_seconds, RESEND_BATCH)
    for project_id in stale:
        app.send_task(**names.recount_message(project_id))
    if stale:
        log.info("project recounts sent again: %d", len(stale))
    return len(stale)


@app.task(name=names.PURGE_EXPIRED_TRASH, base=BaseTask)
def purge_expired_trash() -> int:
    """Files in the trash for longer than `TRASH_RETENTION_DAYS` purged (records, keys and
    bytes), each project's statistics then recounted; how many files went."""
    settings, store = get_settings(), get_store()
    file_bytes = ProjectFileBytes(
        settings.project_files_dir, settings.server_secret(), store.gridfs_database
    )
    before = time.time() - settings.trash_retention_days * DAY_SECONDS
    purged = 0
    while expired := store.projects.expired_trash(before, PURGE_BATCH):
        for stored in expired:
            purge_file(store.projects, file_bytes, stored.id)
            request_recount(store.projects, stored.project_id)
        purged += len(expired)
    return purged


def request_recount(projects: ProjectStore, project_id: str) -> None:
    """One more event for the project's figures; a recount sent when none is pending."""
    if projects.want_recount(project_id, time.time()):
        app.send_task(**names.recount_message(project_id))
