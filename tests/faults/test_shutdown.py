"""A worker stopped with SIGTERM mid-package hands the package back: QUEUED again, no attempt
used, its message back in the queue, so the next worker takes it at once (no reaper runs here)."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import threading

import pytest

from launchers.devstack import LocalStack
from tests.faults.conftest import (
    broker_and_api,
    generations,
    status_of,
    wait_for,
)
from tests.support.client import Client
from tests.support.httpserver import ScriptedServer, gated_file

# A stopped worker must be gone within it: a run that failed to hand its package back is only
# killed at its end, so the deadline is the grace period itself.
GRACE_SECONDS = 15
PROMPT_SECONDS = 10  # beat, or a worker with nothing running


@pytest.fixture
def download_gate():
    gate = threading.Event()
    yield gate
    gate.set()  # no request handler left waiting


@pytest.fixture
def gated_server(package_file, download_gate):
    """Serves half the package, then holds the download until the gate opens."""
    with ScriptedServer({"/held.zip": gated_file(package_file, download_gate)}) as srv:
        yield srv


@pytest.fixture
def stack(gated_server):
    """Broker and API only: no beat, so no reaper can re-queue anything behind the test's back."""
    env = {
        "DL_ZIP_WHITELISTED_DOMAINS": gated_server.origin,
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    with broker_and_api("dms-", env) as local:
        yield local


def _attempts(stack: LocalStack, package_id: str) -> int:
    with sqlite3.connect(stack.settings.sqlite_path) as db:
        return db.execute(
            "SELECT attempts FROM packages WHERE package_id = ?", (package_id,)
        ).fetchone()[0]


def _downloading(client: Client, package_id: str, link: str) -> bool:
    status = status_of(client, package_id, link)
    return status["processingStep"] == "DOWNLOADING" and bool(status["progress"]["bytesDone"])


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGQUIT, False)],
    ids=["SIGTERM to the main process", "SIGTERM to the process group", "SIGQUIT (cold)"],
)
def test_a_stopped_worker_hands_its_package_back_without_using_an_attempt(
    stack, gated_server, download_gate, signum, to_group
):
    """`kill <pid>` reaches the main process only; honcho and systemd signal the whole group;
    SIGQUIT is Celery's cold shutdown, which cancels running tasks itself."""
    worker = stack.start_worker("w1")
    client = Client(stack.api_url)
    link = f"{gated_server.origin}/held.zip?k={secrets.token_urlsafe(8)}"
    package_id = client.submit(link).json()["packageId"]
    wait_for(lambda: _downloading(client, package_id, link))  # held at half the package
    assert _attempts(stack, package_id) == 1

    if to_group:
        os.killpg(worker.pid, signum)
    else:
        worker.send_signal(signum)
    worker.wait(timeout=GRACE_SECONDS)  # TimeoutExpired fails the test

    status = status_of(client, package_id, link)
    assert (status["processingStep"], status["isErrored"]) == ("QUEUED", False)
    assert _attempts(stack, package_id) == 0  # as before the interrupted claim
    assert generations(stack, package_id) == 0
    assert not list(stack.settings.temp_dir.glob("*.zip"))  # the partial download is gone
    assert "handed back" in stack.log_path("w1").read_text()

    download_gate.set()
    stack.start_worker("w2")  # its message is back in the queue: no reaper needed
    status = client.wait_processed(package_id, link)
    assert status["isDataAvailable"] and not status["isErrored"]
    assert _attempts(stack, package_id) == 1  # the claim that finished, nothing for the shutdown
    assert generations(stack, package_id) == 1


def test_beat_and_an_idle_worker_stop_promptly_on_sigterm(stack):
    beat, worker = stack.start_beat(), stack.start_worker("idle")
    wait_for(lambda: "beat: Starting" in stack.log_path("beat").read_text())
    wait_for(lambda: "ready." in stack.log_path("idle").read_text())
    beat.send_signal(signal.SIGTERM)
    worker.send_signal(signal.SIGTERM)
    # well within the grace period: nothing runs, so nothing is waited for
    assert beat.wait(timeout=PROMPT_SECONDS) == 0
    assert worker.wait(timeout=PROMPT_SECONDS) == 0
