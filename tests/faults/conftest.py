"""Fault tests: real worker processes killed, the embedded broker stopped and restarted.

Each test gets its own stack (broker, API, beat, workers) with short heartbeat and reaper periods.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from kombu.exceptions import ChannelError

from launchers.devstack import LocalStack
from samples import SampleSpec, generate_package
from tasks import names
from tests.support.client import Client
from tests.support.httpserver import ScriptedServer, slow_file

FAST_CRASH_HANDLING = {
    "STALE_AFTER_SECONDS": "4",
    "REAPER_INTERVAL_SECONDS": "1",
    "MAX_ATTEMPTS": "3",
    "SECRET_KEY": "faults-secret",
    # these tests post many links from one address on purpose; rate limits have their own tests
    "RATE_LIMIT_SUBMIT": "10000/minute",
    "RATE_LIMIT_READ": "100000/minute",
}


@pytest.fixture(scope="session")
def package_file():
    root = Path(tempfile.mkdtemp(prefix="dmf-pkg-"))
    path = root / "package.zip"
    generate_package(path, SampleSpec(layout="D", messages=2000, events=3000, seed=5))
    yield path
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def server(package_file):
    """Serves the package slowly (about 3 s), so a test can act while it downloads."""
    routes = {"/slow.zip": slow_file(package_file, chunk=32 * 1024, pause=0.05)}
    with ScriptedServer(routes) as srv:
        yield srv


@contextlib.contextmanager
def broker_and_api(prefix: str, env: dict[str, str]) -> Iterator[LocalStack]:
    """The embedded broker and the API, crash handling fast, under a short temporary folder
    (the broker's Unix socket path must stay short); workers are the test's to start."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with LocalStack(root / "data", {**FAST_CRASH_HANDLING, **env}) as local:
            local.data_dir.mkdir(parents=True)
            local.start_broker()
            local.start_api()
            yield local
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stack(server):
    with broker_and_api("dmf-", {"DL_ZIP_WHITELISTED_DOMAINS": server.origin}) as local:
        yield local


def new_link(server) -> str:
    return f"{server.origin}/slow.zip?k={secrets.token_urlsafe(16)}"


def wait_for(predicate, timeout: float = 60, every: float = 0.1):
    """Poll until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def wait_until_idle(stack: LocalStack, timeout: float = 60) -> None:
    """Wait until no package task is queued, prefetched or running anywhere.

    Checked in the order a message moves (queue, then reserved, then active), so a message
    moving on between two checks is seen by the later one.
    """
    app = Celery(broker=stack.settings.effective_broker_url)

    def idle() -> bool:
        with app.connection_for_read() as connection:
            try:
                queued = connection.default_channel.queue_declare(
                    names.PACKAGES_QUEUE, passive=True
                ).message_count
            except ChannelError:  # Redis keeps no empty list: an absent queue holds nothing
                queued = 0
        if queued:
            return False
        inspector = app.control.inspect(timeout=1.0)
        for ask in (inspector.reserved, inspector.active):
            replies = ask()
            if not replies or any(replies.values()):
                return False  # no worker answered yet, or one holds a task
        return True

    try:
        wait_for(idle, timeout)
    finally:
        app.close()


def status_of(client: Client, package_id: str, link: str) -> dict:
    return client.get(f"/api/process/{package_id}/status", link).json()


def generations(stack: LocalStack, package_id: str) -> int:
    """How many statistics generations the store holds for the package (1 after success)."""
    with sqlite3.connect(stack.settings.sqlite_path) as db:
        row = db.execute(
            "SELECT COUNT(DISTINCT generation) FROM statistics WHERE package_id = ?",
            (package_id,),
        ).fetchone()
    return row[0]
