"""`POST /api/process/upload` (issue 14): every answer and error, what is left on disk, the
bandwidth charged, the same bytes not processed twice, and concurrent uploads that together
exceed the day's limit never all passing. Through a real worker:
tests/integration/test_uploads_pipeline.py."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile

import pytest

from api import create_app
from storage.bandwidth import account_meter
from storage.crypto import package_id_for
from storage.events import utc_day
from storage.metering import client_meter
from tests.api.api_support import TEST_CONFIG, discord_link, new_upn, path_form
from tests.api.store_support import account_headers
from tests.api.test_api_http_errors import chunked_post

UPLOAD = "/api/process/upload"
LIMIT = 1_000_000


@pytest.fixture
def settings(settings):
    return settings.with_overrides(daily_bandwidth_limit=LIMIT, max_upload_bytes=400_000)


@pytest.fixture
def headers(client, store, acme):
    return account_headers(client, store, acme, superuser=False)


def a_zip(size: int = 20_000, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("account/user.json", f'{{"id": "{seed:06d}"}}')
        archive.writestr("padding.bin", bytes((seed + n) % 251 for n in range(size)))
    return buffer.getvalue()


def upload(client, headers, data: bytes, **kwargs):
    kwargs.setdefault("content_type", "application/zip")
    return client.post(UPLOAD, data=data, headers=headers, **kwargs)


def files_in(settings) -> list[str]:
    folder = settings.uploads_dir
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def used(store, headers_account: str) -> int:
    return store.bandwidth.usage(account_meter(headers_account), utc_day(time.time()), 0).uploaded


def account_of(store, headers) -> str:
    from api.account_tokens import read

    token = headers["Authorization"].split(" ", 1)[1]
    return read(token, b"test-secret", time.time()).account_id


def test_an_upload_is_queued_with_a_key_shown_once(client, store, settings, queue, headers):
    data = a_zip()
    answer = upload(client, headers, data)
    assert answer.status_code == 202, answer.get_json()
    made = answer.get_json()
    key, package_id = made["key"], made["packageId"]
    assert made["isAccepted"] is True and made["errorMessageCode"] is None
    assert len(key) == 512 and package_id == hashlib.md5(key.encode()).hexdigest()
    assert queue.submitted == [package_id]
    assert files_in(settings) == [f"{package_id}.upload"]
    stored = (settings.uploads_dir / f"{package_id}.upload").read_bytes()
    assert b"account/user.json" not in stored  # encrypted at rest
    status = client.get(
        f"/api/process/{package_id}/status", headers={"Authorization": f"Bearer {key}"}
    )
    assert status.status_code == 200 and status.get_json()["processingStep"] == "QUEUED"
    assert used(store, account_of(store, headers)) == len(data)  # charged what was received


def test_a_multipart_upload_takes_its_first_file(client, settings, headers):
    data = a_zip(seed=3)
    form = {"note": "hello", "file": (io.BytesIO(data), "package.zip")}
    answer = client.post(UPLOAD, data=form, headers=headers, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.get_json()
    assert len(files_in(settings)) == 1
    without = client.post(
        UPLOAD, data={"note": "no file"}, headers=headers, content_type="multipart/form-data"
    )
    assert without.status_code == 400 and without.get_json()["error"]["code"] == "NO_FILE"


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not a zip at all", "NOT_A_ZIP"), (a_zip()[:-30], "NOT_A_ZIP")],
    ids=["text", "cut zip"],
)
def test_a_body_that_is_no_zip_is_400_and_leaves_nothing(
    client, store, settings, headers, body, code
):
    answer = upload(client, headers, body)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == code
    assert files_in(settings) == [] and used(store, account_of(store, headers)) == 0


def test_a_body_shorter_than_its_length_is_400_and_leaves_nothing(client, store, settings, headers):
    data = a_zip()
    answer = client.post(
        UPLOAD,
        input_stream=io.BytesIO(data[:5000]),
        headers={**headers, "Content-Type": "application/zip"},
        environ_overrides={"CONTENT_LENGTH": str(len(data))},  # more than the body holds
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "UPLOAD_INCOMPLETE"
    assert files_in(settings) == [] and used(store, account_of(store, headers)) == 0


def test_a_chunked_upload_needs_a_length(client, settings, headers):
    answer = chunked_post(client, UPLOAD, a_zip(), {**headers, "Content-Type": "application/zip"})
    assert answer.status_code == 411 and answer.get_json()["error"]["code"] == "LENGTH_REQUIRED"
    assert files_in(settings) == []


class Unread(io.BytesIO):
    """A body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")


def test_a_declared_length_over_the_cap_is_413_before_the_body_is_read(client, settings, headers):
    answer = client.post(
        UPLOAD,
        input_stream=Unread(),
        headers={**headers, "Content-Type": "application/zip"},
        environ_overrides={"CONTENT_LENGTH": "400001"},
    )
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "UPLOAD_TOO_LARGE"


def test_a_length_over_the_days_allowance_is_429_before_the_body_is_read(
    client, store, settings, headers
):
    meter = account_meter(account_of(store, headers))
    store.bandwidth.charge(meter, utc_day(time.time()), LIMIT - 1000, LIMIT, "earlier", time.time())
    answer = client.post(
        UPLOAD,
        input_stream=Unread(),
        headers={**headers, "Content-Type": "application/zip"},
        environ_overrides={"CONTENT_LENGTH": "1001"},
    )
    assert answer.status_code == 429
    assert answer.get_json()["error"]["code"] == "BANDWIDTH_EXCEEDED"
    retry = int(answer.headers["Retry-After"])
    assert 0 < retry <= 86_400 and (time.time() + retry) % 86_400 < 120  # the next UTC day
    assert used(store, account_of(store, headers)) == LIMIT - 1000


def test_an_upload_needs_an_account_token(client, shop):
    _store_id, store_headers = shop
    assert upload(client, {}, a_zip()).status_code == 401
    assert upload(client, store_headers, a_zip()).status_code == 401


def test_the_same_bytes_by_the_same_account_are_not_processed_twice(
    client, store, acme, settings, queue, headers
):
    data = a_zip(seed=5)
    first = upload(client, headers, data).get_json()
    again = upload(client, headers, data)
    assert again.status_code == 200
    assert again.get_json() == {
        "isAccepted": True,
        "packageId": first["packageId"],
        "errorMessageCode": "ALREADY_UPLOADED",
        "key": None,
    }
    assert queue.submitted == [first["packageId"]] and len(files_in(settings)) == 1
    other = account_headers(client, store, acme, superuser=False)
    assert upload(client, other, data).status_code == 202  # another account's upload is its own
    owner = {"Authorization": f"Bearer {first['key']}"}
    assert client.delete(f"/api/process/{first['packageId']}", headers=owner).status_code == 200
    anew = upload(client, headers, data)  # its package is gone: processed again
    assert anew.status_code == 202 and anew.get_json()["packageId"] != first["packageId"]


def test_a_broker_that_is_down_is_503_and_leaves_nothing(client, settings, queue, headers):
    queue.broken = True
    answer = upload(client, headers, a_zip())
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "BROKER_UNAVAILABLE"
    assert files_in(settings) == []


def test_concurrent_uploads_never_together_exceed_the_limit(settings, store, queue, acme):
    """12 uploads at once, each fitting alone, the limit admitting 5: exactly 5 pass."""
    data = [a_zip(size=190_000, seed=n) for n in range(12)]
    size = len(data[0])
    limited = settings.with_overrides(daily_bandwidth_limit=5 * size + size // 2)
    app = create_app(TEST_CONFIG, settings=limited, store=store, queue=queue)
    headers = account_headers(app.test_client(), store, acme, superuser=False)
    start, codes = threading.Barrier(len(data)), []

    def send(body: bytes) -> None:
        client = app.test_client()
        start.wait()
        codes.append(upload(client, headers, body).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in data]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202] * 5 + [429] * 7
    assert used(store, account_of(store, headers)) == 5 * size
    assert len(files_in(limited)) == 5


# -- links submitted with an account token, or anonymously under METER_ANONYMOUS -----------------


def sealed_text(store, package_id: str) -> str:
    return store.links.open(package_id, store.packages.get(package_id).sealed_link)


def test_a_link_submitted_with_an_account_token_is_metered_to_that_account(client, store, headers):
    link = discord_link(new_upn())
    answer = client.post("/api/process", json={"package_link": link}, headers=headers)
    assert answer.status_code == 202
    meter = account_meter(account_of(store, headers))
    assert sealed_text(store, answer.get_json()["packageId"]) == f"{meter}\n{link}"
    anonymous = client.post("/api/process", json={"package_link": discord_link(new_upn())})
    assert sealed_text(store, anonymous.get_json()["packageId"]).startswith("https://")


def test_a_metered_link_is_refused_when_the_day_is_used_up(client, store, headers):
    meter = account_meter(account_of(store, headers))
    store.bandwidth.charge(meter, utc_day(time.time()), LIMIT, LIMIT, "earlier", time.time())
    link = discord_link(new_upn())
    for answer in (
        client.post("/api/process", json={"package_link": link}, headers=headers),
        client.post(path_form(link), headers=headers),
    ):
        assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
        body = answer.get_json()
        assert body["isAccepted"] is False and body["errorMessageCode"] == "BANDWIDTH_EXCEEDED"
        assert body["error"]["code"] == "BANDWIDTH_EXCEEDED"
    assert store.packages.get(package_id_for(link.rsplit("=", 1)[1])) is None


def test_a_bad_account_token_on_a_link_is_401_in_the_process_shape(client):
    answer = client.post(
        "/api/process",
        json={"package_link": discord_link(new_upn())},
        headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad"},
    )
    assert answer.status_code == 401
    body = answer.get_json()
    assert body["isAccepted"] is False and body["errorMessageCode"] == "INVALID_CREDENTIALS"


def test_anonymous_links_are_metered_per_address_under_meter_anonymous(settings, store, queue):
    metered = settings.with_overrides(meter_anonymous=5000)
    app = create_app(TEST_CONFIG, settings=metered, store=store, queue=queue)
    client = app.test_client()
    first = client.post("/api/process", json={"package_link": discord_link(new_upn())})
    meter = client_meter(metered.server_secret(), "127.0.0.1")
    assert sealed_text(store, first.get_json()["packageId"]).startswith(f"{meter}\n")
    store.bandwidth.charge(meter, utc_day(time.time()), 5000, 5000, "download", time.time())
    refused = client.post("/api/process", json={"package_link": discord_link(new_upn())})
    assert refused.status_code == 429
    other = client.post(
        "/api/process",
        json={"package_link": discord_link(new_upn())},
        environ_overrides={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 202  # each address has its own allowance
