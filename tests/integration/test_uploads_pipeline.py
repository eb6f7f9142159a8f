"""Direct uploads end to end (issue 14): a zip posted to the API under gunicorn, processed by a
real worker into the same statistics as the generator wrote, its upload charged to the
account's day and gone from disk once processed; an upload cut off midway leaves nothing."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from samples import SampleSpec, generate_package
from storage.identity import new_api_key
from tests.integration.test_audit_trends import _account, _bearer

UPLOAD = "/api/process/upload"


@pytest.fixture(scope="module")
def account(stack):
    _account_id, key = _account(stack, "uploader@uploads.io", superuser=False)
    return _bearer(stack, key)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "mine.zip"
    truth = generate_package(path, SampleSpec(layout="C", messages=2500, events=4000, seed=23))
    return path, truth


def uploads_left(stack) -> list[str]:
    folder = stack.settings.uploads_dir
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def summary(stack, account) -> dict:
    answer = requests.get(f"{stack.api_url}/api/usage/daily-summary", headers=account, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_upload_is_processed_into_the_generators_counts(stack, client, account, package):
    path, truth = package
    before = summary(stack, account)["total_data_bandwidth_used"]
    with path.open("rb") as body:  # streamed by requests, with its Content-Length
        answer = requests.post(
            f"{stack.api_url}{UPLOAD}",
            data=body,
            headers={**account, "Content-Type": "application/zip"},
            timeout=120,
        )
    assert answer.status_code == 202, answer.text
    made = answer.json()
    status = client.wait_processed(made["packageId"], made["key"])
    assert status["isDataAvailable"] and not status["isErrored"], status
    overview = client.get(f"/api/data/{made['packageId']}/overview", made["key"]).json()
    assert overview["messages"] == truth.messages
    lifetime = client.get(f"/api/data/{made['packageId']}/stats/lifetime", made["key"]).json()
    assert lifetime["messages"]["total"] == truth.messages
    assert uploads_left(stack) == []  # removed when the package ended
    after = summary(stack, account)
    assert after["total_data_bandwidth_used"] == before + path.stat().st_size
    again = requests.post(
        f"{stack.api_url}{UPLOAD}",
        data=path.read_bytes(),
        headers={**account, "Content-Type": "application/zip"},
        timeout=120,
    )
    assert again.status_code == 200 and again.json()["errorMessageCode"] == "ALREADY_UPLOADED"
    assert again.json()["packageId"] == made["packageId"] and again.json()["key"] is None


def test_an_interrupted_upload_leaves_no_file_and_costs_nothing(stack, account, package):
    path, _ = package
    data = path.read_bytes()
    before = summary(stack, account)["total_data_bandwidth_used"]
    address = urlsplit(stack.api_url)
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: {account['Authorization']}\r\nContent-Type: application/zip\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head + data[: len(data) // 2])
        deadline = time.monotonic() + 30
        while not any(name.endswith(".part") for name in uploads_left(stack)):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
    # the client is gone mid-body: the API sees the body end early
    deadline = time.monotonic() + 60
    while uploads_left(stack) or summary(stack, account)["total_data_bandwidth_used"] != before:
        assert time.monotonic() < deadline, (uploads_left(stack), summary(stack, account))
        time.sleep(0.1)


def test_a_package_kept_in_a_project_is_processed_from_there(stack, client, account, package):
    path, truth = package
    api = f"{stack.api_url}/api/v1"
    project = requests.post(f"{api}/projects", json={"name": "Exports"}, headers=account,
                            timeout=10).json()  # fmt: skip
    with path.open("rb") as body:
        stored = requests.post(
            f"{api}/projects/{project['id']}/files?name=export.zip",
            data=body,
            headers={**account, "Content-Type": "application/zip"},
            timeout=120,
        )
    assert stored.status_code == 201, stored.text
    other_key = _bearer(stack, _account(stack, "team@uploads.io", superuser=True)[1])
    email = requests.get(f"{stack.api_url}/api/v1/accounts/me", headers=other_key,
                         timeout=10).json()["email"]  # fmt: skip
    shared = requests.put(f"{api}/projects/{project['id']}/members",
                          json={"email": email, "role": "file_downloader"}, headers=account,
                          timeout=10)  # fmt: skip
    assert shared.status_code == 404  # another organization's account is no one here
    processed = requests.post(
        f"{api}/projects/{project['id']}/files/{stored.json()['id']}/process",
        headers=_bearer(stack, _member_key(stack, project["id"], account)),
        timeout=120,
    )
    assert processed.status_code == 202, processed.text
    made = processed.json()
    status = client.wait_processed(made["packageId"], made["key"])
    assert status["isDataAvailable"] and not status["isErrored"], status
    overview = client.get(f"/api/data/{made['packageId']}/overview", made["key"]).json()
    assert overview["messages"] == truth.messages


def _member_key(stack, project_id: str, admin: dict[str, str]) -> str:
    """An API key of a new account of the admin's organization, made a downloader of the
    project."""
    from storage import open_store

    store = open_store(stack.settings)
    try:
        me = requests.get(f"{stack.api_url}/api/v1/accounts/me", headers=admin, timeout=10).json()
        member = store.identity.accounts.create(
            "downloader@uploads.io", "d", me["organization_id"], False, time.time()
        )
        key = new_api_key()
        store.identity.api_keys.create(member.id, "integration", key, time.time())
    finally:
        store.close()
    answer = requests.put(
        f"{stack.api_url}/api/v1/projects/{project_id}/members",
        json={"email": "downloader@uploads.io", "role": "file_downloader"},
        headers=admin,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return key
