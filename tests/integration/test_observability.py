"""Logs and metrics of the real processes.

- The API under gunicorn with two workers and LOG_FORMAT=json: every line of its output (arbiter,
  workers, access lines) is one JSON object, access lines carry the request id they answered
  with, and a scrape of /metrics, whichever worker answers it, sums the requests of both
  (Prometheus' multiprocess files under DATA_DIR/metrics). Only the broker and the API run: the
  packages it accepts stay queued, so the queue depth and the counts are known.
- The session stack's Celery worker (text format): its lines about a package show its id.
- A bad LOG_LEVEL or LOG_FORMAT stops gunicorn, the Celery worker and beat, and the Flower
  launcher with one line.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from launchers.devstack import PROJECT_ROOT, LocalStack

WORKERS = 2
DEADLINE_SECONDS = 20


@pytest.fixture(scope="module")
def api():
    root = Path(tempfile.mkdtemp(prefix="dmo-"))  # short: the broker's Unix socket lives here
    env = {"SECRET_KEY": "observability-secret", "LOG_FORMAT": "json"}
    with LocalStack(root / "data", env) as stack:
        stack.data_dir.mkdir(parents=True)
        stack.start_broker()
        stack.start_api(workers=WORKERS)  # summing across workers needs more than one
        yield stack
    shutil.rmtree(root, ignore_errors=True)


def fresh_get(url: str, **headers: str) -> requests.Response:
    """A GET on its own connection, so the kernel may hand it to either worker."""
    return requests.get(url, headers={"Connection": "close", **headers}, timeout=10)


def samples(stack: LocalStack) -> dict[tuple[str, tuple], float]:
    """One scrape: (name, sorted labels) -> value."""
    answer = fresh_get(f"{stack.api_url}/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def health_count(scraped: dict, method: str = "GET") -> float:
    key = (
        "dumpus_http_requests_total",
        (("method", method), ("route", "/health"), ("status", "200")),
    )
    return scraped.get(key, 0.0)


def json_lines(stack: LocalStack) -> list[dict]:
    """Every line the API wrote, each parsed (a line that is not JSON fails the test)."""
    text = stack.log_path("api").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_line_of_the_api_is_json_and_access_lines_carry_the_request_id(api):
    answer = fresh_get(f"{api.api_url}/health", **{"X-Request-ID": "obs-check-1"})
    generated = fresh_get(f"{api.api_url}/health").headers["X-Request-ID"]
    assert answer.headers["X-Request-ID"] == "obs-check-1"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        lines = json_lines(api)
        ids = {line.get("request_id") for line in lines if line["logger"] == "api.access"}
        if {"obs-check-1", generated} <= ids:
            break
        assert time.monotonic() < deadline, f"no access lines with both ids: {lines[-5:]}"
        time.sleep(0.1)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # the arbiter's own lines


def test_a_scrape_sums_the_requests_of_every_worker(api):
    """Requests reach the figures at most `FLUSH_SECONDS` late, each exactly once, whichever
    worker answered them (HEAD: no other test sends it, so nothing else moves this count)."""
    for _ in range(20):
        answer = requests.head(f"{api.api_url}/health", headers={"Connection": "close"}, timeout=10)
        assert answer.status_code == 200
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (counted := health_count(samples(api), "HEAD")) < 20:
        assert time.monotonic() < deadline, f"{counted} of 20 requests counted"
        time.sleep(0.1)
    assert counted == 20
    files = {path.name for path in (api.data_dir / "metrics").glob("*.db")}
    assert files, "no multiprocess files under DATA_DIR/metrics"


def test_the_queue_depth_and_the_packages_are_read_at_scrape_time(api):
    for _ in range(3):
        link = f"https://click.discord.com/ls/click?upn={secrets.token_urlsafe(450)}"
        answer = requests.post(
            f"{api.api_url}/api/process", json={"package_link": link}, timeout=10
        )
        assert answer.status_code == 202
    scraped = samples(api)
    assert scraped[("dumpus_queue_messages", (("queue", "packages"),))] == 3
    assert scraped[("dumpus_queue_messages", (("queue", "default"),))] == 0
    assert scraped[("dumpus_packages", (("status", "QUEUED"),))] == 3
    assert scraped[("dumpus_broker_up", ())] == scraped[("dumpus_store_up", ())] == 1


# -- the Celery worker (the session stack, text format) -----------------------------------------


def test_a_workers_lines_about_a_package_show_its_id(stack, file_server, client):
    link = f"{file_server.origin}/missing-{secrets.token_hex(4)}.zip"
    package_id = client.submit(link).json()["packageId"]
    started = f"start packages.process[{package_id}]"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while started not in (log := stack.log_path("worker").read_text()):
        assert time.monotonic() < deadline, "the worker never started the package"
        time.sleep(0.2)
    line = next(line for line in log.splitlines() if started in line)
    assert f" [package_id={package_id}]: " in line


# -- bad settings -------------------------------------------------------------------------------

COMMANDS = {
    "gunicorn": ["-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api:create_app()"],
    "celery worker": ["-m", "celery", "-A", "tasks.celery_app", "worker"],
    "celery beat": ["-m", "celery", "-A", "tasks.celery_app", "beat"],
    "flower": ["-m", "launchers.flower"],
}


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
@pytest.mark.parametrize(
    ("variable", "value"), [("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml")], ids=["level", "format"]
)
def test_a_bad_log_setting_stops_the_process_with_one_line(command, variable, value, tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), variable: value}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    result = subprocess.run(
        [sys.executable, *COMMANDS[command]],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dumpus: invalid {variable}="), result.stderr
