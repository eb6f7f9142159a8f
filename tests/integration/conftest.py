"""A real stack for integration tests: embedded Redis, a Celery worker process, the API under
gunicorn, and a download server on 127.0.0.1 serving generated packages."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from launchers.devstack import FileServer, LocalStack
from tests.support.client import Client


@pytest.fixture(scope="session")
def served_dir():
    # Unix socket paths are limited to ~100 bytes: keep the stack's directory short.
    root = Path(tempfile.mkdtemp(prefix="dmi-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def file_server(served_dir):
    www = served_dir / "www"
    www.mkdir()
    with FileServer(www) as server:
        server.directory = www
        yield server


@pytest.fixture(scope="session")
def stack(served_dir, file_server):
    env = {
        "DL_ZIP_WHITELISTED_DOMAINS": file_server.origin,
        "SECRET_KEY": "integration-secret",
        "RATE_LIMIT_READ": "100000/minute",  # tests poll status often; limits have their own tests
        # the audit log's trip from a call to the trends, in seconds rather than half a minute
        "AUDIT_FLUSH_SECONDS": "0.2",
        "AUDIT_FOLD_SECONDS": "1",
        # the trash's retention checked every second (its files are made old by the test)
        "TRASH_PURGE_INTERVAL_SECONDS": "1",
    }
    with LocalStack(served_dir / "data", env) as local:
        local.start_all()
        local.start_beat()
        yield local


@pytest.fixture(scope="session")
def client(stack):
    return Client(stack.api_url)
