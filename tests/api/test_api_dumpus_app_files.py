"""The Dumpus app's data file routes: `/blob` and its signed download (no header, any origin),
`/data` for old apps, expiry, tampering, deletion, re-processing, and what the log shows."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from api import create_app
from storage.crypto import package_id_for
from tests.api.api_support import TEST_CONFIG, new_upn, sample_views
from tests.api.dumpus_app_support import APP_ORIGIN, SQLITE_HEADER, app_headers, with_app_file
from tests.support.dumpus_app import decrypt_like_the_app, inflate_like_pako


class Clock:
    """An injectable clock (the app's `CLOCK` config)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(settings, store, queue, clock):
    """A client of an app whose clock the test moves."""
    app = create_app({**TEST_CONFIG, "CLOCK": clock}, settings=settings, store=store, queue=queue)
    return app.test_client()


def blob(client, package_id: str, upn: str | None):
    return client.get(f"/dumpus/process/{package_id}/blob", headers=app_headers(upn))


def download(client, url: str):
    """What the app's `fetch(url)` sends: a GET with its Origin, no other header."""
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc, "the URL must be absolute"
    return client.get(parts.path, headers={"Origin": APP_ORIGIN})


def test_the_app_gets_a_url_and_an_iv_then_downloads_and_decrypts(timed, packages, store):
    upn = new_upn()
    package_id, compressed, iv, ciphertext = with_app_file(packages, store, upn)
    answer = blob(timed, package_id, upn)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    body = answer.get_json()
    assert set(body) == {"url", "iv", "ttl"} and body["iv"] == iv and body["ttl"] == 300
    assert len(bytes.fromhex(body["iv"])) == 16 and body["iv"] == body["iv"].lower()
    assert body["url"].startswith(f"http://localhost/dumpus/blob/{package_id}/1/")
    fetched = download(timed, body["url"])
    assert fetched.status_code == 200
    assert fetched.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in fetched.headers
    assert fetched.mimetype == "application/octet-stream"
    assert "Content-Encoding" not in fetched.headers
    assert int(fetched.headers["Content-Length"]) == len(ciphertext) == len(fetched.data)
    assert fetched.data == ciphertext
    plain = decrypt_like_the_app(upn, body["iv"], fetched.data)
    assert plain == inflate_like_pako(compressed) and plain.startswith(SQLITE_HEADER)


def test_the_url_carries_nothing_of_the_upn(timed, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    url = blob(timed, package_id, upn).get_json()["url"]
    assert upn[:20] not in url and upn[-20:] not in url


def test_blob_refuses_others_and_unknown_or_unready_packages(timed, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    wrong = blob(timed, package_id, new_upn())
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "UNAUTHORIZED"
    assert wrong.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    unknown = new_upn()
    assert blob(timed, package_id_for(unknown), unknown).status_code == 404
    queued = new_upn()
    assert blob(timed, packages.queued(queued), queued).status_code == 409


def test_blob_of_a_package_without_an_owner_is_404_missing_user_data(timed, packages, store):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    store.app_files.put_unavailable(package_id, 1, "MISSING_USER_DATA")
    answer = blob(timed, package_id, upn)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "MISSING_USER_DATA"


def test_an_expired_url_is_403_until_the_app_asks_again(timed, packages, store, clock):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    url = blob(timed, package_id, upn).get_json()["url"]
    clock.now += 300
    assert download(timed, url).status_code == 200  # the last second of its life
    clock.now += 1
    expired = download(timed, url)
    assert expired.status_code == 403 and expired.get_json()["error"]["code"] == "URL_EXPIRED"
    assert expired.headers["Access-Control-Allow-Origin"] == "*"
    assert download(timed, blob(timed, package_id, upn).get_json()["url"]).status_code == 200


def test_the_url_lifetime_is_the_setting(settings, store, queue, packages, clock):
    settings = settings.with_overrides(dumpus_blob_url_ttl=5)
    app = create_app({**TEST_CONFIG, "CLOCK": clock}, settings=settings, store=store, queue=queue)
    client = app.test_client()
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    body = blob(client, package_id, upn).get_json()
    assert body["ttl"] == 5
    clock.now += 6
    assert download(client, body["url"]).status_code == 403


@pytest.mark.parametrize("part", [4, 5, 6, 3], ids=["generation", "expiry", "signature", "id"])
def test_a_tampered_url_is_403(timed, packages, store, part):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    other = with_app_file(packages, store, new_upn())[0]
    pieces = urlsplit(blob(timed, package_id, upn).get_json()["url"]).path.split("/")
    pieces[part] = {3: other, 4: "2", 5: str(int(pieces[5]) + 3600), 6: "0" * 64}[part]
    answer = timed.get("/".join(pieces), headers={"Origin": APP_ORIGIN})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "INVALID_SIGNATURE"


def test_a_deleted_package_is_404_at_its_url(timed, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    url = blob(timed, package_id, upn).get_json()["url"]
    assert (
        timed.delete(f"/dumpus/process/{package_id}", headers=app_headers(upn)).status_code == 200
    )
    gone = download(timed, url)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "UNKNOWN_PACKAGE_ID"


def test_a_url_of_an_earlier_generation_is_404_once_processed_again(timed, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn, generation=1)
    url = blob(timed, package_id, upn).get_json()["url"]
    store.app_files.put(package_id, 2, "00" * 16, b"x" * 16)
    store.packages.delete(package_id)
    packages.processed(upn, sample_views(package_id), generation=2)
    assert download(timed, url).status_code == 404


def test_old_apps_get_the_file_decrypted_with_their_upn(client, packages, store):
    upn = new_upn()
    package_id, compressed, *_ = with_app_file(packages, store, upn)
    answer = client.get(f"/dumpus/process/{package_id}/data", headers=app_headers(upn))
    assert answer.status_code == 200 and answer.data == compressed
    assert answer.mimetype == "application/octet-stream"
    assert "Content-Encoding" not in answer.headers
    assert inflate_like_pako(answer.data).startswith(SQLITE_HEADER)
    wrong = client.get(f"/dumpus/process/{package_id}/data", headers=app_headers(new_upn()))
    assert wrong.status_code == 401


def test_the_access_log_shows_no_signature(timed, packages, store, caplog):
    caplog.set_level(logging.INFO, logger="api.access")
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    url = blob(timed, package_id, upn).get_json()["url"]
    signature = url.rsplit("/", 1)[1]
    download(timed, url)
    lines = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert f"GET /dumpus/blob/{package_id}/<generation>/<expires>/<signature> 200" in lines[-1]
    assert signature not in caplog.text and upn[:40] not in caplog.text
