"""A store outage on any route: 503 STORE_UNAVAILABLE with `Retry-After`, never a 500 and never
the driver's words; the WSGI read path answers the same without asking the store twice."""

from __future__ import annotations

import sqlite3

import pytest
from pymongo.errors import AutoReconnect, NotPrimaryError, ServerSelectionTimeoutError

from api import create_app
from storage.crypto import package_id_for
from tests.api.api_support import TEST_CONFIG, bearer, discord_link, new_upn, path_form
from tests.api.dumpus_app_support import app_headers

SECRET_WORDS = "db7.internal:27017"  # what a driver's message may say: never answered
OUTAGES = [
    AutoReconnect(f"connection to {SECRET_WORDS} closed"),
    NotPrimaryError(f"{SECRET_WORDS} is not primary"),
    ServerSelectionTimeoutError(f"no server at {SECRET_WORDS}"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("unable to open database file"),
]


class DownRepository:
    """Every method raises the outage; `calls` counts them."""

    def __init__(self, error: Exception, calls: list[str]) -> None:
        self.error, self.calls = error, calls

    def __getattr__(self, name: str):
        def fail(*_args, **_kwargs):
            self.calls.append(name)
            raise self.error

        return fail


class DownStore:
    """The app's real store, except that its repositories cannot be reached."""

    def __init__(self, store, error: Exception) -> None:
        self.links = store.links
        self.calls: list[str] = []
        self.packages = self.statistics = self.app_files = DownRepository(error, self.calls)

    def ping(self, timeout=None) -> bool:
        return False


@pytest.fixture(params=OUTAGES, ids=lambda e: f"{type(e).__name__}:{e}"[:40])
def down(request, settings, store, queue, responses):
    down_store = DownStore(store, request.param)
    app = create_app(TEST_CONFIG, settings=settings, store=down_store, queue=queue)
    return app.test_client(), down_store


def assert_store_unavailable(response, settings) -> dict:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.store_retry_after)
    body = response.get_json()
    assert body["error"]["code"] == "STORE_UNAVAILABLE"
    assert SECRET_WORDS not in response.get_data(as_text=True)
    assert "locked" not in response.get_data(as_text=True)
    return body


def test_submitting_answers_both_shapes(down, settings, queue):
    client, _ = down
    for response in (
        client.post("/api/process", json={"package_link": discord_link(new_upn())}),
        client.post(path_form(discord_link(new_upn()))),
    ):
        body = assert_store_unavailable(response, settings)
        assert (body["isAccepted"], body["errorMessageCode"]) == (False, "STORE_UNAVAILABLE")
    assert queue.submitted == []


def test_the_apps_submit_route_gets_a_code_it_can_show(down, settings):
    client, _ = down
    link = {"package_link": discord_link(new_upn())}
    response = client.post("/dumpus/process", json=link, headers=app_headers())
    body = assert_store_unavailable(response, settings)
    assert (body["isAccepted"], body["errorMessageCode"]) == (False, "UNKNOWN_ERROR")


@pytest.mark.parametrize(
    "path",
    [
        "/api/process/{id}/status",
        "/api/data/{id}/top/dms/ly",
        "/api/data/{id}/guild/42/stats/l4w",
        "/api/data/{id}/user/100",
        "/dumpus/process/{id}/status",
        "/dumpus/process/{id}/blob",
        "/dumpus/process/{id}/data",
        "/dumpus/process/{id}/user/100",
    ],
)
def test_owner_reads_answer_503(down, settings, path):
    client, _ = down
    upn = new_upn()
    url = path.format(id=package_id_for(upn))
    headers = app_headers(upn) if url.startswith("/dumpus") else bearer(upn)
    assert_store_unavailable(client.get(url, headers=headers), settings)


@pytest.mark.parametrize("prefix", ["/api/process", "/dumpus/process"])
def test_deleting_answers_503(down, settings, prefix):
    client, _ = down
    upn = new_upn()
    response = client.delete(f"{prefix}/{package_id_for(upn)}", headers=bearer(upn))
    assert_store_unavailable(response, settings)


@pytest.mark.parametrize("view", ["about", "overview", "stats/lifetime"])
def test_the_read_path_answers_503_itself_with_one_store_call(down, settings, view):
    client, down_store = down
    upn = new_upn()
    response = client.get(f"/api/data/{package_id_for(upn)}/{view}", headers=bearer(upn))
    assert_store_unavailable(response, settings)
    assert down_store.calls == ["get_current"]  # Flask did not ask the store again
    assert response.headers["Content-Length"] == str(len(response.get_data()))


def test_retry_after_follows_the_setting(settings, store, queue):
    slow = settings.with_overrides(store_retry_after=42)
    down_store = DownStore(store, AutoReconnect("down"))
    client = create_app(TEST_CONFIG, settings=slow, store=down_store, queue=queue).test_client()
    upn = new_upn()
    response = client.get(f"/api/process/{package_id_for(upn)}/status", headers=bearer(upn))
    assert response.headers["Retry-After"] == "42"


def test_other_errors_are_still_500_internal_error(settings, store, queue):
    down_store = DownStore(store, sqlite3.OperationalError("no such table: packages"))
    client = create_app(TEST_CONFIG, settings=settings, store=down_store, queue=queue).test_client()
    upn = new_upn()
    response = client.get(f"/api/process/{package_id_for(upn)}/status", headers=bearer(upn))
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "INTERNAL_ERROR"


def test_every_store_backed_operation_documents_its_503(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in ("/livez", "/readyz", "/health"):
                continue
            answer = operation["responses"]["503"]
            assert "Retry-After" in answer["headers"], (method, path)
