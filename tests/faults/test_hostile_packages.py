"""Hostile packages through a real worker: each ends errored or counted, and the same worker
process serves the next package."""

import io
import secrets
import zipfile

import pytest

from tests.faults.conftest import wait_for
from tests.support.client import Client
from tests.support.httpserver import ScriptedServer, body, slow_file


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Activity/analytics/events-2024-00000-of-00001.json", b"\0" * 30_000_000)
    return buffer.getvalue()


def _truncated(package_file) -> bytes:
    data = package_file.read_bytes()
    return data[: len(data) // 3]


@pytest.fixture
def hostile_server(package_file):
    routes = {
        "/bomb.zip": body(_bomb()),
        "/truncated.zip": body(_truncated(package_file)),
        "/not-a-zip.zip": body(b"<html>surprise</html>" * 100),
        "/good.zip": slow_file(package_file, chunk=1 << 20, pause=0),
    }
    with ScriptedServer(routes) as srv:
        yield srv


@pytest.fixture
def hostile_stack(stack, hostile_server):
    stack.extra_env["DL_ZIP_WHITELISTED_DOMAINS"] = hostile_server.origin
    stack.stop("api")
    stack.start_api()
    return stack


def test_hostile_packages_fail_cleanly_and_the_worker_goes_on(hostile_stack, hostile_server):
    worker = hostile_stack.start_worker("w1")
    client = Client(hostile_stack.api_url)
    for name in ("bomb", "truncated", "not-a-zip"):
        link = f"{hostile_server.origin}/{name}.zip?k={secrets.token_urlsafe(12)}"
        package_id = client.submit(link).json()["packageId"]
        status = wait_for(
            lambda pid=package_id, lk=link: (
                (s := client.get(f"/api/process/{pid}/status", lk).json())["isErrored"] and s
            )
        )
        assert status["errorMessageCode"] == "INVALID_PACKAGE", name
    link = f"{hostile_server.origin}/good.zip?k={secrets.token_urlsafe(12)}"
    package_id = client.submit(link).json()["packageId"]
    assert client.wait_processed(package_id, link)["isDataAvailable"]
    assert worker.poll() is None  # the same worker process, never restarted
    assert list(hostile_stack.settings.temp_dir.glob("*.zip")) == []
