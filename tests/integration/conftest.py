"""A real stack for integration tests: embedded Redis, a Celery worker process, the API under
gunicorn, and a download server on 127.0.0.1 serving generated packages."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tasks.devstack import FileServer, LocalStack

PROCESS_TIMEOUT_SECONDS = 180


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
    env = {"DL_ZIP_WHITELISTED_DOMAINS": file_server.origin, "SECRET_KEY": "integration-secret"}
    with LocalStack(served_dir / "data", env) as local:
        local.start_all()
        yield local


class Client:
    """The Dumpus client's side of the API, for tests."""

    def __init__(self, api_url: str):
        self.api = api_url

    def submit(self, link: str) -> requests.Response:
        return requests.post(f"{self.api}/api/process", json={"package_link": link}, timeout=30)

    def get(self, path: str, upn: str, **params) -> requests.Response:
        headers = {"Authorization": f"Bearer {upn}"}
        return requests.get(f"{self.api}{path}", headers=headers, params=params, timeout=30)

    def wait_processed(self, package_id: str, upn: str) -> dict:
        deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status = self.get(f"/api/process/{package_id}/status", upn).json()
            if status["isDataAvailable"] or status["isErrored"]:
                return status
            time.sleep(0.2)
        raise AssertionError(f"package {package_id} not processed in time: {status}")


@pytest.fixture(scope="session")
def client(stack):
    return Client(stack.api_url)
