"""`api.event_path`: a single event answered before Flask gives Flask's answer, is stored,
writes one access line and one audit record under the store's organization; every other request
(a bad body, a bad token, an unknown shopper, ...) goes to Flask, which answers it as it always
does, with the body it was sent."""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid

import orjson
import pytest

from api import create_app
from api.event_path import EventPath
from tests.api.api_support import TEST_CONFIG, Counted
from tests.api.store_support import account_headers, store_headers
from tests.api.test_api_http_errors import chunked_post
from tests.api.test_api_store_unavailable import DownRepository


def event_path_of(app) -> EventPath:
    layer = app.wsgi_app
    while not isinstance(layer, EventPath):
        layer = layer.wsgi_app
    return layer


@pytest.fixture
def build(settings, queue):
    """An app on `store` with audit on, and a count of the requests its Flask answered;
    `fast=False`: the same app with Flask answering everything."""

    def make(store, fast: bool = True):
        audited = settings.with_overrides(audit_enabled=True)
        app = create_app(TEST_CONFIG, settings=audited, store=store, queue=queue)
        path = event_path_of(app)
        flask = Counted(path.wsgi_app)
        path.wsgi_app = flask
        if not fast:
            app.wsgi_app = flask
        return app, flask

    return make


@pytest.fixture
def shopper(client, shop) -> str:
    _store_id, headers = shop
    answer = client.post("/api/user", json={"email": "ann@example.org"}, headers=headers)
    return answer.get_json()["id"]


def post(app, body: bytes, headers: dict[str, str], content_type: str = "application/json"):
    return app.test_client().post(
        "/api/event", data=body, headers={**headers, "Content-Type": content_type}
    )


def test_an_event_is_answered_before_flask_as_flask_answers_it(build, store, shop, shopper, caplog):
    store_id, headers = shop
    fast_app, fast_flask = build(store)
    slow_app, slow_flask = build(store, fast=False)
    event = {"type": "page_view", "user_id": shopper, "data": {"path": "/cart", "n": [1, 2]}}
    body = orjson.dumps(event)
    with caplog.at_level(logging.INFO, logger="api.access"):
        fast, slow = post(fast_app, body, headers), post(slow_app, body, headers)
    assert (fast_flask.calls, slow_flask.calls) == (0, 1)
    assert fast.status_code == slow.status_code == 201
    assert fast.content_type == slow.content_type == "application/json"
    made, also = fast.get_json(), slow.get_json()
    assert made.keys() == also.keys() and made["id"] != also["id"]
    assert made["created_at"] == pytest.approx(time.time(), abs=60)
    assert made == {
        **event,
        "id": made["id"],
        "store_id": store_id,
        "created_at": made["created_at"],
    }
    stored = {e.id: orjson.loads(e.data) for e in store.events.events(store_id)}
    assert stored == {made["id"]: event["data"], also["id"]: event["data"]}
    lines = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert [line for line in lines if line.startswith("POST /api/event 201 ")] == lines[-2:]
    assert len([line for line in lines if "/api/event " in line]) == 2


def test_the_audit_log_files_a_fast_event_under_the_stores_organization(
    build, store, acme, shop, shopper
):
    _store_id, headers = shop
    app, flask = build(store)
    answer = post(app, orjson.dumps({"type": "login", "user_id": shopper}), headers)
    assert answer.status_code == 201 and flask.calls == 0
    app.extensions["audit"].flush()
    filed = [(r.account_id, r.organization_id, r.status) for r in store.audit.records()
             if r.route == "/api/event"]  # fmt: skip
    assert filed == [(None, acme.id, 201)]


def refused_cases(client, store, acme, shop, shopper) -> list[tuple[str, bytes, dict, str]]:
    """(name, body, headers, content type) of requests the fast path leaves to Flask."""
    _store_id, headers = shop
    blocked_id, blocked = store_headers(client, store, acme, name="Blocked")
    store.identity.storefronts.update(blocked_id, is_active=False)
    good = {"type": "view", "user_id": shopper}
    return [
        ("not json", b"{nope", headers, "application/json"),
        ("an array", orjson.dumps([good]), headers, "application/json"),
        ("no type", orjson.dumps({"user_id": shopper}), headers, "application/json"),
        ("bad type", orjson.dumps({**good, "type": "-x"}), headers, "application/json"),
        ("data not an object", orjson.dumps({**good, "data": [1]}), headers, "application/json"),
        ("text/plain", orjson.dumps(good), headers, "text/plain"),
        ("too large data", orjson.dumps({**good, "data": {"x": "y" * 20_000}}), headers,
         "application/json"),
        ("unknown shopper", orjson.dumps({**good, "user_id": str(uuid.uuid4())}), headers,
         "application/json"),
        ("no token", orjson.dumps(good), {}, "application/json"),
        ("bad token", orjson.dumps(good), {"Authorization": "Bearer eyJ.x.y"},
         "application/json"),
        ("an account's token", orjson.dumps(good),
         account_headers(client, store, acme, superuser=True), "application/json"),
        ("a blocked store", orjson.dumps(good), blocked, "application/json"),
        ("over the app's body limit", orjson.dumps({**good, "data": {"x": "y" * 70_000}}),
         headers, "application/json"),
    ]  # fmt: skip


def test_every_other_request_is_left_to_flask_with_its_body(
    build, client, store, acme, shop, shopper
):
    cases = refused_cases(client, store, acme, shop, shopper)
    fast_app, fast_flask = build(store)
    slow_app, _ = build(store, fast=False)
    for count, (name, body, headers, content_type) in enumerate(cases, start=1):
        fast = post(fast_app, body, headers, content_type)
        slow = post(slow_app, body, headers, content_type)
        assert fast_flask.calls == count, name
        assert fast.status_code == slow.status_code and fast.status_code >= 400, name
        assert fast.get_json() == slow.get_json(), name
    assert list(store.events.events(shop[0])) == []


def test_a_chunked_event_is_left_to_flask(build, store, shop, shopper):
    _store_id, headers = shop
    app, flask = build(store)
    body = orjson.dumps({"type": "view", "user_id": shopper})
    answer = chunked_post(app.test_client(), "/api/event", body, headers)
    assert flask.calls == 1 and answer.status_code == 201


class EventsDown:
    """The real store, except that its events cannot be reached."""

    def __init__(self, store, error: Exception) -> None:
        self._store = store
        self.events = DownRepository(error, [])

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_store_outage_is_answered_before_flask_as_flask_answers_it(
    build, settings, store, shop, shopper
):
    _store_id, headers = shop
    down = EventsDown(store, sqlite3.OperationalError("database is locked"))
    fast_app, fast_flask = build(down)
    slow_app, _ = build(down, fast=False)
    body = orjson.dumps({"type": "view", "user_id": shopper})
    fast, slow = post(fast_app, body, headers), post(slow_app, body, headers)
    assert fast_flask.calls == 0 and down.events.calls == ["append", "append"]
    assert fast.status_code == slow.status_code == 503
    assert fast.get_json() == slow.get_json()
    assert (
        fast.headers["Retry-After"]
        == slow.headers["Retry-After"]
        == str(settings.store_retry_after)
    )
