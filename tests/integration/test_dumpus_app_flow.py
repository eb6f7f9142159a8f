"""The official Dumpus app's flow on real parts: the API under gunicorn, the embedded Redis, a
Celery worker process and a download server on 127.0.0.1, driven the way the app drives them.

Every request carries the app's `Origin`; the status is polled once a second (the app's
`refetchInterval`) through LOCKED (the worker starts once it was seen), DOWNLOADING (the download
server holds half the zip until it was seen), ANALYZING (seen when analysing outlasts a poll; its
mapping is also checked in tests/api/test_api_dumpus_app.py) and PROCESSED; the data file is fetched
from the signed URL with no header but the Origin, then decrypted and opened as the app does.
The link is an allow-listed one (the real app only posts Discord links, whose download this
machine cannot reach): its key material, the whole link, plays the UPN's part.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from launchers.devstack import LocalStack
from samples import SampleSpec, generate_package
from tests.support import dumpus_app as app
from tests.support.api_log import ApiLog
from tests.support.client import Client
from tests.support.httpserver import ScriptedServer, gated_file

ORIGIN = "https://web.dumpus.app"
SECRET = "app-flow-secret"
URL_TTL = 8
STEPS = ["LOCKED", "DOWNLOADING", "ANALYZING", "PROCESSED"]
DEADLINE_SECONDS = 180


@pytest.fixture(scope="module")
def package_file():
    root = Path(tempfile.mkdtemp(prefix="dma-pkg-"))
    spec = SampleSpec(layout="D", messages=90_000, events=60_000, seed=41)
    truth = generate_package(root / "package.zip", spec)
    yield root / "package.zip", truth
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def download_seen():
    """Set once the app has seen DOWNLOADING: the download server then sends the rest."""
    return threading.Event()


@pytest.fixture(scope="module")
def server(package_file, download_seen):
    routes = {"/p.zip": gated_file(package_file[0], download_seen)}
    with ScriptedServer(routes) as srv:
        yield srv


@pytest.fixture(scope="module")
def stack(server):
    root = Path(tempfile.mkdtemp(prefix="dma-"))
    env = {
        "DL_ZIP_WHITELISTED_DOMAINS": server.origin,
        "SECRET_KEY": SECRET,
        "DUMPUS_BLOB_URL_TTL": str(URL_TTL),
        "RATE_LIMIT_READ": "100000/minute",
    }
    with LocalStack(root / "data", env) as local:
        local.data_dir.mkdir(parents=True)
        local.start_broker()
        local.start_api()  # no worker yet: the package waits in line, LOCKED
        yield local
    shutil.rmtree(root, ignore_errors=True)


def call(method: str, url: str, upn: str | None = None, **kwargs) -> requests.Response:
    """A request as the app makes it: its Origin, and its bearer UPN after the first call."""
    headers = {"Origin": ORIGIN, "Accept": "application/json", **kwargs.pop("headers", {})}
    if upn:
        headers["Authorization"] = f"Bearer {upn}"
    answer = requests.request(method, url, headers=headers, timeout=30, **kwargs)
    if urlsplit(url).path.startswith("/dumpus/blob/"):
        assert answer.headers.get("Access-Control-Allow-Origin") == "*", answer.headers
    else:
        assert answer.headers.get("Access-Control-Allow-Origin") == ORIGIN, answer.headers
    return answer


@pytest.fixture(scope="module")
def flow(stack, server, package_file, download_seen):
    """Submit as the app, poll once a second until PROCESSED; returns what the app saw."""
    base = f"{stack.api_url}/dumpus/"  # typed with a trailing slash: the app calls //process
    link = f"{server.origin}/p.zip?k={secrets.token_urlsafe(20)}"
    preflight = requests.options(
        f"{base}/process",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
        timeout=10,
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    posted = call("POST", f"{base}/process", json={"package_link": link})
    assert posted.status_code == 202, posted.text
    package_id = posted.json()["packageId"]
    seen, worker_started = [], False
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        document = call("GET", f"{base}/process/{package_id}/status", link).json()
        assert isinstance(document["processingQueuePosition"], dict), document
        assert not document["isErrored"], document
        if not seen or seen[-1] != document["processingStep"]:
            seen.append(document["processingStep"])
        if document["processingStep"] == "DOWNLOADING":
            download_seen.set()
        if document["processingStep"] == "PROCESSED":
            break
        if not worker_started and len(seen) == 1:
            stack.start_worker()  # the package has been seen waiting in line
            worker_started = True
        time.sleep(1.0)  # the app's refetchInterval
    else:
        raise AssertionError(f"not processed in time; steps seen: {seen}")
    return {"base": base, "link": link, "id": package_id, "seen": seen, "truth": package_file[1]}


def test_the_status_goes_through_every_step_in_order(flow):
    # ANALYZING may last less than a poll on a small package: every other step is held until seen
    assert flow["seen"] in (STEPS, [step for step in STEPS if step != "ANALYZING"])


def test_the_app_downloads_with_no_header_and_opens_its_file(flow):
    body = call("GET", f"{flow['base']}/process/{flow['id']}/blob", flow["link"]).json()
    assert set(body) == {"url", "iv", "ttl"} and body["ttl"] == URL_TTL
    fetched = call("GET", body["url"], stream=True)  # no Authorization: the URL is the key
    raw = fetched.raw.read()
    assert fetched.status_code == 200 and "Content-Encoding" not in fetched.headers
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    db = app.open_like_the_app(app.decrypt_like_the_app(flow["link"], body["iv"], raw))
    assert db.execute("SELECT package_id FROM package_data").fetchall() == [(flow["id"],)]
    assert app.messages(db, "2000-01-01", "2999-12-31") == flow["truth"].messages
    old = call("GET", f"{flow['base']}/process/{flow['id']}/data", flow["link"])
    assert old.status_code == 200 and "Content-Encoding" not in old.headers
    assert old.content == app.decrypt_like_webcrypto(flow["link"], body["iv"], raw)


def test_the_owner_is_named_from_the_package(flow):
    owner = flow["truth"].owner_id
    answer = call("GET", f"{flow['base']}/process/{flow['id']}/user/{owner}", flow["link"])
    assert answer.status_code == 200
    assert answer.json()["user_id"] == owner
    assert answer.json()["username"] == flow["truth"].owner_username


def test_a_wrong_upn_and_an_unknown_id_get_the_apps_codes(flow):
    wrong = call("GET", f"{flow['base']}/process/{flow['id']}/status", "x" * 600)
    assert wrong.status_code == 401 and wrong.json()["errorMessageCode"] == "UNAUTHORIZED"
    never = f"{flow['link']}-never-posted"
    unknown_id = Client.package_id(never, SECRET)
    unknown = call("GET", f"{flow['base']}/process/{unknown_id}/status", never)
    assert unknown.status_code == 404 and unknown.json()["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    blob = call("GET", f"{flow['base']}/process/{unknown_id}/blob", never)
    assert blob.status_code == 404


def test_a_url_expires_after_its_ttl(flow):
    url = call("GET", f"{flow['base']}/process/{flow['id']}/blob", flow["link"]).json()["url"]
    deadline = time.monotonic() + URL_TTL + 30
    while time.monotonic() < deadline:
        answer = call("GET", url)
        if answer.status_code != 200:
            break
        time.sleep(1.0)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "URL_EXPIRED"


def test_the_signature_never_reaches_the_log(flow, stack):
    api_log = ApiLog(stack.log_path("api"))
    since = api_log.offset()
    url = call("GET", f"{flow['base']}/process/{flow['id']}/blob", flow["link"]).json()["url"]
    assert call("GET", url).status_code == 200
    line = f"GET /dumpus/blob/{flow['id']}/<generation>/<expires>/<signature> 200"
    log = api_log.wait_for(re.escape(line), since)  # access lines are buffered for a moment
    assert url.rsplit("/", 1)[1] not in log
    assert flow["link"].split("k=")[1] not in log


def test_delete_removes_the_package_and_its_file(flow, stack):
    url = call("GET", f"{flow['base']}/process/{flow['id']}/blob", flow["link"]).json()["url"]
    files = stack.settings.app_files_dir
    assert list(files.iterdir())
    deleted = call("DELETE", f"{flow['base']}/process/{flow['id']}", flow["link"])
    assert deleted.status_code == 200
    assert deleted.json() == {"isDeleted": True, "errorMessageCode": None}
    gone = call("GET", url)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "UNKNOWN_PACKAGE_ID"
    status = call("GET", f"{flow['base']}/process/{flow['id']}/status", flow["link"])
    assert status.status_code == 404 and status.json()["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    assert list(files.iterdir()) == []
