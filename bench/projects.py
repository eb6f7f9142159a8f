"""Projects' storage statistics: reads over many projects and versions, and what a recount costs
per project (not a test).

`python -m bench.projects` (`make bench CASE=projects`), SQLite and the Procfile's gunicorn:

1. Fill: one organization, `--projects` projects (1,000) holding `--versions` file versions in
   all (1,000,000), four versions a file, on two providers, a tenth of the files in the trash,
   made through the project store's own calls (`create_file`, `add_version`, `trash_file`);
   the time it took and the database's size.
2. Recount: every project's figures recounted as the worker's task does
   (`tasks.projects.recount_until_settled`): median and 90th percentile per project.
3. Reads, `--reads` times each over a keep-alive connection: `GET /api/v1/projects/stats`
   (a page of 100 projects) and `/api/v1/current_user/stats` (the caller's totals over all
   1,000) for the organization's superuser, and `/api/v1/projects/<id>/stats` for a member:
   median and 90th percentile of the server's time (the access log's) and the round trip.
   Target: under 20 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.api_reads import gunicorn
from bench.audit_log import access_durations, file_mb, percentiles
from launchers.devstack import LocalStack
from storage import Store, open_store
from storage.identity import new_api_key
from tasks.projects import recount_until_settled

PROJECTS, VERSIONS, READS = 1000, 1_000_000, 200
VERSIONS_PER_FILE = 4
TRASHED_SHARE = 10  # one file in ten is in the trash
TARGET_MS = 20.0


def account(store: Store, organization_id: str, email: str, superuser: bool) -> str:
    made = store.identity.accounts.create(email, "b", organization_id, superuser, time.time())
    key = new_api_key()
    store.identity.api_keys.create(made.id, "bench", key, time.time())
    return key


def fill(store: Store, projects: int, versions: int) -> tuple[dict, list[str], str, str]:
    """The projects and their versions; (figures, project ids, a superuser's key, a member's)."""
    started = time.perf_counter()
    organization = store.identity.organizations.create("bench", time.time())
    root = account(store, organization.id, "root@bench.io", superuser=True)
    member_key = account(store, organization.id, "member@bench.io", superuser=False)
    member = store.identity.accounts.get_by_email("member@bench.io")
    assert member is not None
    shelf = store.projects
    local = shelf.ensure_provider("Local disk", "here", "local")
    other = shelf.ensure_provider("MongoDB GridFS", "there", "gridfs")
    ids = []
    per_project = versions // projects
    for number in range(projects):
        project = shelf.create_project(organization.id, f"P{number:04d}", "", local.id, time.time())
        shelf.set_member(project.id, member.id, "project_viewer", time.time())
        ids.append(project.id)
        for file_number in range(per_project // VERSIONS_PER_FILE):
            stored = shelf.create_file(project.id, f"f{file_number}", time.time())
            provider = local if file_number % 3 else other
            for version in range(VERSIONS_PER_FILE):
                shelf.add_version(stored.id, 1000 + version, "00" * 32, provider.id, time.time())
            if file_number % TRASHED_SHARE == 0:
                shelf.trash_file(stored.id, time.time())
    seconds = time.perf_counter() - started
    figures = {"fill_s": round(seconds, 1), "versions": projects * per_project}
    return figures, ids, root, member_key


def recount_times(store: Store, ids: list[str]) -> dict:
    times = []
    for project_id in ids:
        store.projects.want_recount(project_id, time.time())
        started = time.perf_counter()
        recount_until_settled(store.projects, project_id, time.time)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def bearer(url: str, key: str) -> dict[str, str]:
    answer = requests.post(f"{url}/api/auth", json={"api_key": key}, timeout=10)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def time_reads(stack: LocalStack, ids: list[str], root: str, member: str, reads: int) -> dict:
    routes = {  # name: (path, the access log's template, whose key)
        "projects/stats (100 of 1,000)": (
            "/api/v1/projects/stats?per_page=100",
            "/api/v1/projects/stats",
            root,
        ),
        "current_user/stats (all 1,000)": (
            "/api/v1/current_user/stats",
            "/api/v1/current_user/stats",
            root,
        ),
        "projects/<id>/stats": (
            f"/api/v1/projects/{ids[len(ids) // 2]}/stats",
            "/api/v1/projects/<project_id>/stats",
            member,
        ),
    }
    figures = {}
    with gunicorn(stack, "reads", "/health") as (url, _pid), requests.Session() as session:
        log = stack.log_path("reads")
        for name, (path, template, key) in routes.items():
            headers = bearer(url, key)
            line = re.compile(rf"GET {re.escape(template)} 200 ([\d.]+)ms")
            session.get(url + path, headers=headers, timeout=30).raise_for_status()
            time.sleep(0.5)  # the access lines of earlier reads are written
            _, offset = access_durations(log, 0, line)
            trips = []
            for _ in range(reads):
                started = time.perf_counter()
                session.get(url + path, headers=headers, timeout=30)
                trips.append((time.perf_counter() - started) * 1000)
            time.sleep(0.5)
            server, _ = access_durations(log, offset, line)
            figures[name] = {"server": percentiles(server), "round_trip": percentiles(trips)}
    return figures


def figures(projects: int, versions: int, reads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="dumpus-bench-projects-") as tmp:
        stack = LocalStack(Path(tmp) / "data", {"RATE_LIMIT_READ": "100000000/minute"})
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(stack.settings)
        try:
            filled, ids, root, member = fill(store, projects, versions)
            recounts = recount_times(store, ids)
        finally:
            store.close()
        stack.start_broker()
        try:
            reads_figures = time_reads(stack, ids, root, member, reads)
        finally:
            stack.stop()
        size = file_mb(stack.settings.sqlite_path)
        return {**filled, "projects": projects, "sqlite_mb": size, "recount": recounts,
                "reads": reads_figures}  # fmt: skip


def report(result: dict) -> str:
    lines = [
        f"Project statistics (SQLite, the Procfile's gunicorn; {result['projects']:,} projects, "
        f"{result['versions']:,} file versions filled in {result['fill_s']} s, "
        f"{result['sqlite_mb']} MB; target: reads under {TARGET_MS:.0f} ms)",
        f"  recount per project: median {result['recount']['median_ms']} ms, "
        f"p90 {result['recount']['p90_ms']} ms",
    ]
    for name, timing in result["reads"].items():
        server, trip = timing["server"], timing["round_trip"]
        lines.append(
            f"  {name:32} server {server['median_ms']} / {server['p90_ms']} ms   "
            f"round trip {trip['median_ms']} / {trip['p90_ms']} ms (median / p90)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.projects` and `make bench CASE=projects`."""
    parser = argparse.ArgumentParser(prog="python -m bench.projects", description=__doc__)
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--versions", type=int, default=VERSIONS)
    parser.add_argument("--reads", type=int, default=READS)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    result = figures(args.projects, args.versions, args.reads)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
