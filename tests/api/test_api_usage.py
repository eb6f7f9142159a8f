"""The audit log through the API, and `GET /api/v1/analytics/usage/trends`: every rule, the
UTC day boundary, zero-filling across month and year ends, 422s and store failures."""

from __future__ import annotations

import time
import uuid

import pytest

from api import create_app
from storage.audit import AuditRecord
from storage.identity import new_api_key
from tests.api.api_support import TEST_CONFIG, Clock, RecordingQueue

TRENDS = "/api/v1/analytics/usage/trends"


@pytest.fixture
def clock():
    return Clock("2026-12-02T12:00:00")


@pytest.fixture
def app(settings, store, clock):
    config = {**TEST_CONFIG, "CLOCK": clock}
    return create_app(
        config, settings=settings.with_overrides(audit_enabled=True), store=store,
        queue=RecordingQueue(),
    )  # fmt: skip


@pytest.fixture
def people(store):
    """Two organizations; in the first a superuser and two members, in the second one member."""
    identity, now = store.identity, time.time()
    acme, beta = identity.organizations.create("Acme", now), identity.organizations.create("B", now)

    def person(email, organization, superuser=False):
        account = identity.accounts.create(email, email[0], organization.id, superuser, now)
        key = new_api_key()
        identity.api_keys.create(account.id, "k", key, now)
        return account, key

    return {
        "acme": acme,
        "beta": beta,
        "root": person("root@acme.io", acme, True),
        "ada": person("ada@acme.io", acme),
        "bob": person("bob@acme.io", acme),
        "eve": person("eve@beta.io", beta),
    }


def _headers(client, key) -> dict[str, str]:
    token = client.post("/api/auth", json={"api_key": key}).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _seed(store, calls: dict[tuple[str, str | None, str | None], int]) -> None:
    """Recorded calls: (day, account, organization) -> how many; then folded."""
    records = [
        AuditRecord(day, 0.0, account, organization, "/r", "GET", 200, 1.0)
        for (day, account, organization), count in calls.items()
        for _ in range(count)
    ]
    store.audit.append(records)
    while store.audit.fold(1000, time.time()):
        pass


def _trends(client, headers, query="") -> tuple[int, dict]:
    answer = client.get(f"{TRENDS}{query}", headers=headers)
    return answer.status_code, answer.get_json()


def test_every_call_is_recorded_with_its_account_and_route_template(app, client, store, people):
    account, key = people["ada"]
    headers = _headers(client, key)
    client.get("/api/v1/accounts/me", headers=headers)
    client.get("/api/process/" + "a" * 32 + "/status")  # anonymous, a package id in the path
    client.get("/api/v1/accounts/me", headers={"Authorization": "Bearer eyJ.bad.token"})
    app.extensions["audit"].flush()
    rows = [
        (r.account_id, r.organization_id, r.route, r.method, r.status, r.day)
        for r in store.audit.records()
    ]
    assert rows == [
        (account.id, people["acme"].id, "/api/auth", "POST", 200, "2026-12-02"),
        (account.id, people["acme"].id, "/api/v1/accounts/me", "GET", 200, "2026-12-02"),
        (None, None, "/api/process/<package_id>/status", "GET", 401, "2026-12-02"),
        (None, None, "/api/v1/accounts/me", "GET", 401, "2026-12-02"),
    ]


def test_a_token_on_an_anonymous_route_files_the_call_under_its_account(app, client, store, people):
    account, key = people["ada"]
    client.get("/health", headers=_headers(client, key))
    app.extensions["audit"].flush()
    (row,) = [(r.account_id, r.route) for r in store.audit.records() if r.route == "/health"]
    assert row == (account.id, "/health")


def test_recorded_calls_become_trends_once_folded(app, client, store, people):
    _account, key = people["ada"]
    headers = _headers(client, key)
    for _ in range(3):
        client.get("/api/v1/accounts/me", headers=headers)
    app.extensions["audit"].flush()
    assert _trends(client, headers, "?days=1")[1]["total_calls"] == 0  # not folded yet
    while store.audit.fold(1000, time.time()):
        pass
    status, body = _trends(client, headers, "?days=1")
    # the POST /api/auth and three reads; the first trends read was not written before the fold
    assert (status, body["daily_usage"]) == (200, [{"date": "2026-12-02", "calls": 4}])


def test_the_shape_zero_fills_every_day_oldest_first(client, store, people):
    account, key = people["ada"]
    acme = people["acme"].id
    _seed(store, {("2026-11-30", account.id, acme): 4, ("2026-12-02", account.id, acme): 2})
    status, body = _trends(client, _headers(client, key), "?days=5")
    assert status == 200
    assert body == {
        "period_days": 5,
        "daily_usage": [
            {"date": "2026-11-28", "calls": 0},
            {"date": "2026-11-29", "calls": 0},
            {"date": "2026-11-30", "calls": 4},
            {"date": "2026-12-01", "calls": 0},
            {"date": "2026-12-02", "calls": 2},
        ],
        "total_calls": 6,
        "average_daily_calls": 1.2,
    }


def test_the_default_is_30_days_and_zero_fills_across_a_year_end(client, store, clock, people):
    account, key = people["ada"]
    clock.set("2027-01-02T00:00:00")  # the first second of a UTC day
    headers = _headers(client, key)
    _seed(store, {("2026-12-31", account.id, people["acme"].id): 3})
    _status, body = _trends(client, headers)
    dates = [entry["date"] for entry in body["daily_usage"]]
    assert body["period_days"] == 30 and len(dates) == 30
    assert dates[0] == "2026-12-04" and dates[-1] == "2027-01-02"
    assert {"date": "2026-12-31", "calls": 3} in body["daily_usage"]
    assert body["total_calls"] == 3 and body["average_daily_calls"] == 0.1


def test_the_day_boundary_is_utc(client, store, clock, people):
    account, key = people["ada"]
    clock.set("2026-12-02T23:59:59")
    headers = _headers(client, key)
    _seed(store, {("2026-12-02", account.id, people["acme"].id): 1})
    assert _trends(client, headers, "?days=1")[1]["daily_usage"][0]["date"] == "2026-12-02"
    clock.set("2026-12-03T00:00:00")
    assert _trends(client, headers, "?days=1")[1]["daily_usage"] == [
        {"date": "2026-12-03", "calls": 0}
    ]


def test_a_365_day_period_crosses_month_ends(client, people):
    _status, body = _trends(client, _headers(client, people["ada"][1]), "?days=365")
    dates = [entry["date"] for entry in body["daily_usage"]]
    assert len(dates) == len(set(dates)) == 365
    assert dates[0] == "2025-12-03" and "2026-02-28" in dates and "2026-03-01" in dates


def test_own_and_organization_trends_and_their_refusals(client, store, people):
    ada, ada_key = people["ada"]
    bob, _ = people["bob"]
    eve, _ = people["eve"]
    acme, beta = people["acme"].id, people["beta"].id
    _seed(
        store,
        {
            ("2026-12-02", ada.id, acme): 1,
            ("2026-12-02", bob.id, acme): 2,
            ("2026-12-02", eve.id, beta): 4,
            ("2026-12-02", None, None): 8,
        },
    )
    headers = _headers(client, ada_key)
    total = lambda query: _trends(client, headers, query)[1]["total_calls"]  # noqa: E731
    assert total("?days=1") == 1  # her own calls (her token's POST /api/auth is not folded yet)
    assert total(f"?days=1&user_id={ada.id}") == 1
    assert total(f"?days=1&organization_id={acme}") == 3
    for query, message in [
        (f"?user_id={bob.id}", "Cannot view other users' trends"),
        (f"?organization_id={beta}", "Cannot view other organizations' trends"),
        (f"?user_id={ada.id}&organization_id={beta}", "Cannot view other organizations' trends"),
    ]:
        status, body = _trends(client, headers, query)
        assert status == 403 and body["error"] == {"code": "FORBIDDEN", "message": message}


def test_a_superuser_sees_anyone_and_every_call(client, store, people):
    _, key = people["root"]
    eve, _ = people["eve"]
    beta = people["beta"].id
    _seed(store, {("2026-12-02", eve.id, beta): 4, ("2026-12-02", None, None): 8})
    headers = _headers(client, key)
    total = lambda query: _trends(client, headers, query)[1]["total_calls"]  # noqa: E731
    assert total(f"?days=1&user_id={eve.id}") == 4
    assert total(f"?days=1&organization_id={beta}") == 4
    assert total(f"?days=1&user_id={eve.id}&organization_id={beta}") == 4
    assert total(f"?days=1&user_id={eve.id}&organization_id={people['acme'].id}") == 0
    assert total("?days=1") == 4 + 8  # every call, anonymous ones included


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?days=0", "days"),
        ("?days=366", "days"),
        ("?days=ten", "days"),
        ("?user_id=not-a-uuid", "user_id"),
        (f"?organization_id={'x' * 36}", "organization_id"),
    ],
)
def test_a_bad_query_is_a_422(client, people, query, message):
    status, body = _trends(client, _headers(client, people["ada"][1]), query)
    assert status == 422 and body["error"]["code"] == "INVALID_QUERY"
    assert body["error"]["message"].startswith(message)


def test_trends_need_a_token(client):
    answer = client.get(TRENDS)
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_a_store_failure_is_a_5xx_that_echoes_nothing(client, store, people, monkeypatch):
    import sqlite3

    headers = _headers(client, people["ada"][1])

    def broken(*_args):
        raise sqlite3.OperationalError("database is locked: /secret/path/dumpus.sqlite3")

    monkeypatch.setattr(store.audit, "daily_calls", broken)
    answer = client.get(TRENDS, headers=headers)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "STORE_UNAVAILABLE"
    assert "secret" not in answer.get_data(as_text=True)


def test_an_unknown_user_in_an_organization_has_no_calls(client, people):
    headers = _headers(client, people["root"][1])
    query = f"?days=2&user_id={uuid.uuid4()}&organization_id={people['acme'].id}"
    assert _trends(client, headers, query)[1]["total_calls"] == 0


def test_a_call_is_filed_under_its_utc_day(app, client, store, clock):
    for moment in ("2026-12-31T23:59:59.999", "2027-01-01T00:00:00"):
        clock.set(moment)
        client.get("/health")
    app.extensions["audit"].flush()
    assert [r.day for r in store.audit.records()] == ["2026-12-31", "2027-01-01"]
