"""The workers' side of issue 15, with a real SQLite store: statistics recounted in coalesced
bursts (1,000 file events cost a handful of recounts, and the figures equal a recount), lost
recounts sent again by beat, and the trash's retention purging records, keys and bytes."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

from storage.file_bytes import ProjectFileBytes
from tasks import names
from tasks.projects import (
    purge_expired_trash,
    recount_stats,
    recount_until_settled,
    request_recount,
    resend_project_recounts,
)


def a_project(store) -> tuple[str, str]:
    projects = store.projects
    provider = projects.ensure_provider("Local disk", "here", "local")
    project = projects.create_project("org-1", "P", "", provider.id, time.time())
    return project.id, provider.id


def a_file(store, settings, project_id: str, provider_id: str, data: bytes, at: float) -> str:
    """A file with one version whose bytes are on the local provider."""
    file_bytes = ProjectFileBytes(settings.project_files_dir, settings.server_secret())
    stored = store.projects.create_file(project_id, "f", at)
    version_id = str(uuid.uuid4())
    with file_bytes.local.receiving(version_id, len(data)) as incoming:
        incoming.write(data)
        incoming.finish()
        incoming.keep()
    digest = hashlib.sha256(data).hexdigest()
    store.projects.add_version(stored.id, len(data), digest, provider_id, at, version_id)
    return stored.id


def test_a_burst_of_a_thousand_events_sends_one_recount_and_costs_a_handful(store, sent):
    project_id, provider_id = a_project(store)
    files = [store.projects.create_file(project_id, f"f{n}", time.time()) for n in range(50)]
    for n in range(1000):
        store.projects.add_version(files[n % 50].id, n, "00" * 32, provider_id, time.time())
        request_recount(store.projects, project_id)
    assert sent == [(names.RECOUNT_PROJECT_STATS, {"args": [project_id], "queue": "default"})]
    assert recount_stats(project_id) == 1
    stats = store.projects.stats(project_id)
    assert stats.active_file_versions == 1000 and stats.active_bytes == sum(range(1000))
    assert stats.generation == 1000


def test_events_during_a_recount_make_it_recount_again_not_send_again(store, sent):
    project_id, provider_id = a_project(store)
    stored = store.projects.create_file(project_id, "f", time.time())
    request_recount(store.projects, project_id)
    projects = store.projects
    real_recount, rounds = projects.recount, []

    def recount_while_uploads_arrive(pid):
        rounds.append(pid)
        if len(rounds) <= 2:  # two more uploads land while the first two recounts run
            projects.add_version(stored.id, 7, "00" * 32, provider_id, time.time())
            request_recount(projects, pid)
        return real_recount(pid)

    projects.recount = recount_while_uploads_arrive
    try:
        assert recount_until_settled(projects, project_id, time.time) == 3
    finally:
        del projects.recount
    assert len(sent) == 1  # the pending recount took the later events in
    assert store.projects.stats(project_id).active_file_versions == 2


def test_beat_sends_again_a_recount_whose_task_was_lost(store, settings, sent):
    project_id, _ = a_project(store)
    store.projects.want_recount(project_id, time.time() - 10 * settings.recount_resend_seconds)
    sent.clear()
    assert resend_project_recounts() == 1
    assert [name for name, _ in sent] == [names.RECOUNT_PROJECT_STATS]
    recount_stats(project_id)
    assert resend_project_recounts() == 0


def test_the_trash_retention_purges_records_keys_and_bytes(store, settings, sent):
    project_id, provider_id = a_project(store)
    now = time.time()
    old = a_file(store, settings, project_id, provider_id, os.urandom(3000), now)
    recent = a_file(store, settings, project_id, provider_id, os.urandom(2000), now)
    kept = a_file(store, settings, project_id, provider_id, os.urandom(1000), now)
    long_ago = now - (settings.trash_retention_days + 1) * 86_400
    store.projects.trash_file(old, long_ago)
    store.projects.trash_file(recent, now)
    assert purge_expired_trash() == 1
    assert store.projects.file(old) is None and store.projects.file(recent) is not None
    assert len(list(settings.project_files_dir.glob("*.bin"))) == 2
    assert len(list((settings.project_files_dir / "keys").iterdir())) == 2
    recount_stats(project_id)
    stats = store.projects.stats(project_id)
    assert (stats.active_bytes, stats.trash_bytes) == (1000, 2000)
    assert store.projects.file(kept) is not None
