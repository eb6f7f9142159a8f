"""`api.read_path`: the whole-view reads answered before Flask give Flask's answers, byte for
byte, count once against the read budget, write the same access line, and leave every other
request (errors included) to Flask."""

from __future__ import annotations

import logging

import pytest

from api import create_app
from api.read_path import WHOLE_VIEWS, ReadPath, rule_pattern
from storage.crypto import PackageKey, package_id_for
from tests.api.api_support import (
    TEST_CONFIG,
    Counted,
    bearer,
    new_upn,
    record_responses,
    sample_views,
)

FAST_ROUTES = ["overview", "about", "stats/lifetime", "stats/l4w", "stats/l1m", "stats/ly"]


@pytest.fixture
def build(settings, store, queue, responses):
    """A fresh app (its own limits) whose answers go to the leak check, and a count of the
    requests that reached Flask; `fast=False`: the same app with Flask answering everything."""

    def make(fast: bool = True, **limits: str):
        overrides = settings.with_overrides(**limits) if limits else settings
        app = create_app(TEST_CONFIG, settings=overrides, store=store, queue=queue)
        # Inside api.request_ids' middleware, left out here: its ids differ from answer to answer.
        read_path = app.wsgi_app.wsgi_app
        assert isinstance(read_path, ReadPath)
        flask = Counted(read_path.wsgi_app)
        read_path.wsgi_app = flask
        app.wsgi_app = read_path if fast else flask
        record_responses(app, responses)
        return app, flask

    return make


def answer(client, path: str, **kwargs) -> tuple[int, list[tuple[str, str]], bytes]:
    response = client.get(path, **kwargs)
    return response.status_code, sorted(response.headers.items()), response.get_data()


@pytest.fixture
def owned(packages):
    """Packages in each state, with the UPN of their owner."""
    upn, waiting, failed, other = new_upn(), new_upn(), new_upn(), new_upn()
    return {
        "processed": (upn, packages.processed(upn, sample_views(package_id_for(upn)))),
        "queued": (waiting, packages.queued(waiting)),
        "errored": (failed, packages.errored(failed)),
        "no views": (other, packages.processed(other, {"about": {"package_id": "x"}})),
    }


def cases(owned) -> list[tuple[str, dict]]:
    """Requests covering every way a whole-view read can go, for both paths."""
    upn, package_id = owned["processed"]
    listed = []
    for route in FAST_ROUTES:
        path = f"/api/data/{package_id}/{route}"
        listed += [
            (path, bearer(upn)),
            (path, {}),
            (path, bearer(owned["queued"][0])),  # another package's owner
            (path, {"Authorization": f"Basic {upn}"}),
            (path.upper().replace("/API/DATA/", "/api/data/").replace("/STATS/", "/stats/"), {}),
            (path + "/", bearer(upn)),
            (f"/api/data/{'0' * 32}/{route}", bearer(upn)),
        ]
        for state in ("queued", "errored", "no views"):
            other_upn, other_id = owned[state]
            listed.append((f"/api/data/{other_id}/{route}", bearer(other_upn)))
    listed.append((f"/api/data/{package_id}/stats/forever", bearer(upn)))
    listed.append((f"/api/data/{package_id}/stats", bearer(upn)))
    return listed


def test_every_answer_is_flasks_own(build, owned):
    fast, slow = build()[0].test_client(), build(fast=False)[0].test_client()
    for path, headers in cases(owned):
        assert answer(fast, path, headers=headers) == answer(slow, path, headers=headers), path


def test_a_tampered_view_is_flasks_401(build, owned, store, settings):
    app, flask = build()
    upn, package_id = owned["processed"]
    view_id = PackageKey(package_id, upn, settings.server_secret()).view_id("overview")
    blob = store.statistics.get(package_id, 1, view_id)
    store.statistics.put_many(package_id, 1, [(view_id, blob[:-1] + bytes([blob[-1] ^ 1]))])
    response = app.test_client().get(f"/api/data/{package_id}/overview", headers=bearer(upn))
    assert response.status_code == 401 and response.json["error"]["code"] == "UNAUTHORIZED"
    assert flask.calls == 1


def test_a_good_read_never_reaches_flask_and_others_always_do(build, owned):
    app, flask = build()
    client = app.test_client()
    upn, package_id = owned["processed"]
    for route in FAST_ROUTES:
        assert client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn)).status_code == 200
    assert flask.calls == 0
    client.head(f"/api/data/{package_id}/overview", headers=bearer(upn))
    client.get(f"/api/data/{package_id}/overview", headers=bearer(owned["queued"][0]))
    client.get(f"/api/data/{package_id}/top/dms/ly", headers=bearer(upn))
    client.get(f"/api/data/{package_id}/overview", headers=bearer(upn), data=b"x")
    assert flask.calls == 4


def test_each_read_counts_once_whichever_path_answers(build, owned):
    app, flask = build(rate_limit_read="4/minute")
    client = app.test_client()
    upn, package_id = owned["processed"]
    path = f"/api/data/{package_id}/overview"
    statuses = [client.get(path, headers=bearer(upn)).status_code for _ in range(2)]
    statuses.append(client.get(path, headers=bearer(owned["queued"][0])).status_code)  # Flask's
    statuses.append(client.get(path, headers=bearer(upn)).status_code)
    refused = client.get(path, headers=bearer(upn))
    assert statuses == [200, 200, 401, 200]
    assert refused.status_code == 429 and refused.json["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert flask.calls == 2  # the 401 and the 429


def test_a_fast_read_writes_the_same_access_line(build, owned, caplog):
    caplog.set_level(logging.INFO, logger="api.access")
    upn, package_id = owned["processed"]
    for fast in (True, False):
        client = build(fast=fast)[0].test_client()
        client.get(f"/api/data/{package_id}/stats/ly", headers=bearer(upn))
    lines = [r.getMessage().rsplit(" ", 1)[0] for r in caplog.records if r.name == "api.access"]
    assert lines == [f"GET /api/data/{package_id}/stats/<period> 200"] * 2


def test_fast_answers_are_recorded_for_the_leak_check(build, owned, responses):
    app, _ = build()
    upn, package_id = owned["processed"]
    app.test_client().get(f"/api/data/{package_id}/overview", headers=bearer(upn))
    assert len(responses) == 1 and b"Content-Type: application/json" in responses[0]


def test_the_served_endpoints_are_whole_view_routes_of_the_app(app):
    rules = {r.endpoint: r.rule for r in app.url_map.iter_rules()}
    assert set(WHOLE_VIEWS) <= set(rules)
    assert rule_pattern("/api/data/<package_id>/stats/<period>") == (
        r"/api/data/(?P<package_id>[0-9a-f]{32})/stats/(?P<period>l4w|l1m|ly|lifetime)"
    )


def test_a_store_error_is_flasks_500_counted_once(build, owned, store, monkeypatch):
    app, flask = build(rate_limit_read="2/minute")
    upn, package_id = owned["processed"]

    def broken(*args):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(store.statistics, "get_current", broken)
    client = app.test_client()
    failed = client.get(f"/api/data/{package_id}/overview", headers=bearer(upn))
    assert failed.status_code == 500 and failed.json["error"]["code"] == "INTERNAL_ERROR"
    monkeypatch.undo()
    assert client.get(f"/api/data/{package_id}/overview", headers=bearer(upn)).status_code == 200
    assert client.get(f"/api/data/{package_id}/overview", headers=bearer(upn)).status_code == 429
    assert flask.calls == 2
