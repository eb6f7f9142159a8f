"""Projects through the real parts (issue 15): files uploaded, trashed, restored and purged
through the API under gunicorn, the statistics recounted by a real worker and served as it
stored them; the trash's retention enforced by beat."""

from __future__ import annotations

import time

import requests

from storage import open_store
from tests.integration.test_audit_trends import _account, _bearer

DEADLINE_SECONDS = 60


def stats_when(stack, headers, project_id: str, expected: dict) -> dict:
    """The project's figures once they hold `expected` (the worker recounts in the meantime)."""
    url = f"{stack.api_url}/api/v1/projects/{project_id}/stats"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        stats = requests.get(url, headers=headers, timeout=10).json()["stats"]
        if {name: stats[name] for name in expected} == expected:
            return stats
        assert time.monotonic() < deadline, (stats, expected)
        time.sleep(0.1)


def upload(stack, headers, project_id: str, size: int) -> str:
    answer = requests.post(
        f"{stack.api_url}/api/v1/projects/{project_id}/files?name=f{size}.bin",
        data=b"b" * size,
        headers={**headers, "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_file_events_are_counted_by_a_worker_and_the_trash_expires_by_beat(stack):
    headers = _bearer(stack, _account(stack, "team@projects.io", superuser=False)[1])
    api = f"{stack.api_url}/api/v1"
    project = requests.post(f"{api}/projects", json={"name": "Team"}, headers=headers,
                            timeout=10).json()["id"]  # fmt: skip
    kept, trashed, purged = (upload(stack, headers, project, size) for size in (100, 200, 400))
    files = f"{api}/projects/{project}/files"
    assert requests.delete(f"{files}/{trashed}", headers=headers, timeout=10).ok
    assert requests.delete(f"{files}/{purged}", headers=headers, timeout=10).ok
    assert requests.delete(f"{files}/{purged}/purge", headers=headers, timeout=10).ok
    stats = stats_when(stack, headers, project, {"active_bytes": 100, "trash_bytes": 200})
    assert (stats["active_file_versions"], stats["trash_file_versions"]) == (1, 1)
    assert requests.post(f"{files}/{trashed}/restore", headers=headers, timeout=10).ok
    stats_when(stack, headers, project, {"active_bytes": 300, "trash_bytes": 0})
    assert requests.delete(f"{files}/{kept}", headers=headers, timeout=10).ok
    stats_when(stack, headers, project, {"active_bytes": 200, "trash_bytes": 100})
    _age_in_the_trash(stack, kept)  # beat purges it within a second or so
    stats_when(stack, headers, project, {"active_bytes": 200, "trash_bytes": 0})
    assert requests.get(f"{files}/{kept}", headers=headers, timeout=10).status_code == 404


def _age_in_the_trash(stack, file_id: str) -> None:
    """The trashed file, trashed longer ago than the retention (as if days had passed)."""
    store = open_store(stack.settings)
    try:
        long_ago = time.time() - (stack.settings.trash_retention_days + 1) * 86_400
        store.projects.restore_file(file_id)
        assert store.projects.trash_file(file_id, long_ago)
    finally:
        store.close()
