"""CORS on the Dumpus app's routes (its origins, preflights, errors included) and the rate
limits they share with ours (preflights never counted, 429 with `Retry-After` in JSON)."""

from __future__ import annotations

import pytest

from api import create_app
from storage.crypto import package_id_for
from tests.api.api_support import TEST_CONFIG, discord_link, new_upn, sample_views
from tests.api.dumpus_app_support import APP_ORIGIN, app_headers


def status(client, package_id: str, upn: str | None):
    return client.get(f"/dumpus/process/{package_id}/status", headers=app_headers(upn))


def assert_app_cors(response, origin: str = APP_ORIGIN) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in response.headers


# -- CORS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://web.dumpus.app",
        "capacitor://localhost",
        "https://localhost",
        "tauri://localhost",
        "https://tauri.localhost",
    ],
)
def test_a_preflight_from_each_app_origin_is_allowed(client, origin):
    answer = client.options(
        f"/dumpus/process/{'0' * 32}/status",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert answer.status_code == 200
    assert_app_cors(answer, origin)
    assert "authorization" in answer.headers["Access-Control-Allow-Headers"].lower()
    assert {"GET", "POST", "DELETE"} <= set(
        answer.headers["Access-Control-Allow-Methods"].split(", ")
    )


def test_the_post_preflight_allows_content_type(client):
    answer = client.options(
        "/dumpus/process",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status_code == 200 and answer.data == b""
    assert "content-type" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_a_path_of_no_route_passes_its_preflight_then_gets_a_json_404(client):
    # the app asks /user/ with an empty id while a page renders: a CORS error would be noise
    path = f"/dumpus/process/{'0' * 32}/user/"
    answer = client.options(
        path,
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert answer.status_code == 200
    assert_app_cors(answer)
    answer = client.get(path, headers=app_headers(new_upn()))
    assert answer.status_code == 404 and answer.is_json
    assert_app_cors(answer)


def test_another_origin_gets_no_cors_headers(client):
    answer = client.get(
        f"/dumpus/process/{'0' * 32}/status", headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 401
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_our_own_routes_get_no_cors_headers(client):
    answer = client.get(f"/api/process/{'0' * 32}/status", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_cors_origins_come_from_the_setting(settings, store, queue):
    settings = settings.with_overrides(cors_origins=("https://dumpus.example.org",))
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=queue).test_client()
    ours = client.get(
        f"/dumpus/process/{'0' * 32}/status", headers={"Origin": "https://dumpus.example.org"}
    )
    assert_app_cors(ours, "https://dumpus.example.org")
    theirs = client.get(f"/dumpus/process/{'0' * 32}/status", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in theirs.headers


def test_preflights_are_never_rate_limited(settings, store, queue):
    limits = {"rate_limit_submit": "1/minute", "rate_limit_read": "1/minute"}
    app = create_app(
        TEST_CONFIG, settings=settings.with_overrides(**limits), store=store, queue=queue
    )
    client = app.test_client()
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    for _ in range(5):
        assert client.options("/dumpus/process", headers=preflight).status_code == 200
        assert (
            client.options(f"/dumpus/process/{'0' * 32}/blob", headers=preflight).status_code == 200
        )
    link = discord_link(new_upn())
    assert client.post("/dumpus/process", json={"package_link": link}).status_code == 202
    assert status(client, "0" * 32, None).status_code == 401  # the read budget is intact too
    refused = status(client, "0" * 32, None)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "RATE_LIMITED"
    assert_app_cors(refused)


def test_the_apps_user_route_answers_429_with_retry_after_in_json(settings, store, queue, packages):
    app = create_app(
        TEST_CONFIG,
        settings=settings.with_overrides(rate_limit_read="2/minute"),
        store=store,
        queue=queue,
    )
    client = app.test_client()
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    for _ in range(2):
        assert (
            client.get(f"/dumpus/process/{package_id}/user/1", headers=app_headers(upn)).status_code
            == 200
        )
    limited = client.get(f"/dumpus/process/{package_id}/user/1", headers=app_headers(upn))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"]["code"] == "RATE_LIMITED"
    assert_app_cors(limited)


def test_a_rate_limited_submission_shows_a_code_the_app_knows(settings, store, queue):
    app = create_app(
        TEST_CONFIG,
        settings=settings.with_overrides(rate_limit_submit="1/minute"),
        store=store,
        queue=queue,
    )
    client = app.test_client()
    for expected in (202, 429):
        answer = client.post("/dumpus/process", json={"package_link": discord_link(new_upn())})
        assert answer.status_code == expected
    assert (
        answer.get_json()["errorMessageCode"] == "UNKNOWN_ERROR" and answer.headers["Retry-After"]
    )
