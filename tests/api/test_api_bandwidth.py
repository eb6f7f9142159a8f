"""Bandwidth metering through the API (`/api/usage/...`): checks and charges against the daily
limit (also concurrent ones), deletions, alerts at their exact thresholds, per-account limits,
summaries across a UTC day boundary, resets, and every refusal."""

from __future__ import annotations

import time

import pytest

from api import create_app
from storage.identity import new_api_key
from tests.api.api_support import TEST_CONFIG, Clock, RecordingQueue
from tests.api.store_support import assert_error
from tests.support.thread_races import all_at_once

USAGE = "/api/usage"
LIMIT = 1_000
LIST_MAX = 3
EXCEEDED = {
    "allowed": False,
    "message": "Daily bandwidth limit exceeded",
    "error": {"code": "BANDWIDTH_EXCEEDED", "message": "Daily bandwidth limit exceeded"},
}


@pytest.fixture
def clock():
    return Clock("2026-12-02T23:30:00")  # tokens live an hour: past midnight stays within it


@pytest.fixture
def app(settings, store, clock):
    limits = {"daily_bandwidth_limit": LIMIT, "bandwidth_list_max": LIST_MAX}
    config = {**TEST_CONFIG, "CLOCK": clock}
    return create_app(
        config, settings=settings.with_overrides(**limits), store=store, queue=RecordingQueue()
    )


@pytest.fixture
def people(client, store):
    """Bearer headers: `root` a superuser of Acme, `ada` and `bob` its members, `eve` of Beta."""
    identity, now = store.identity, time.time()
    acme, beta = identity.organizations.create("Acme", now), identity.organizations.create("B", now)

    def headers(email, organization, superuser=False):
        account = identity.accounts.create(email, email[0], organization.id, superuser, now)
        key = new_api_key()
        identity.api_keys.create(account.id, "k", key, now)
        token = client.post("/api/auth", json={"api_key": key}).get_json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    return {
        "root": headers("root@acme.io", acme, True),
        "ada": headers("ada@acme.io", acme),
        "bob": headers("bob@acme.io", acme),
        "eve": headers("eve@beta.io", beta, True),
    }


def upload(client, headers, size, name="f.zip"):
    return client.post(
        f"{USAGE}/log-upload", json={"file_name": name, "file_size": size}, headers=headers
    )


def delete(client, headers, size, name="f.zip"):
    return client.post(
        f"{USAGE}/log-deletion", json={"file_name": name, "file_size": size}, headers=headers
    )


def used_today(client, headers) -> int:
    answer = client.get(f"{USAGE}/daily-summary", headers=headers)
    assert answer.status_code == 200
    return answer.get_json()["total_data_bandwidth_used"]


def test_a_check_answers_whether_a_size_fits_and_charges_nothing(client, people):
    ada = people["ada"]
    upload(client, ada, 400)
    fits = client.post(f"{USAGE}/check-upload-bandwidth", json={"file_size": 600}, headers=ada)
    assert (fits.status_code, fits.get_json()) == (
        200,
        {"allowed": True, "message": "Upload permitted"},
    )
    over = client.post(f"{USAGE}/check-upload-bandwidth", json={"file_size": 601}, headers=ada)
    assert (over.status_code, over.get_json()) == (400, EXCEEDED)
    assert used_today(client, ada) == 400


def test_an_upload_is_charged_and_listed_newest_first(client, people, clock):
    first = upload(client, people["ada"], 300, "a.zip")
    clock.set("2026-12-02T23:31:00.250")
    second = upload(client, people["ada"], 200, "b.zip")
    assert first.status_code == second.status_code == 200
    assert second.get_json() == {
        "email": "ada@acme.io",
        "date": "2026-12-02",
        "total_upload_volume": 500,
        "uploads": [
            {"file_name": "b.zip", "size": 200, "at": "2026-12-02T23:31:00.250Z"},
            {"file_name": "a.zip", "size": 300, "at": "2026-12-02T23:30:00.000Z"},
        ],
    }
    assert used_today(client, people["bob"]) == 0  # each account its own meter


def test_an_upload_past_the_limit_is_refused_in_both_shapes_and_charges_nothing(client, people):
    assert upload(client, people["ada"], LIMIT).status_code == 200
    refused = upload(client, people["ada"], 1)
    assert (refused.status_code, refused.get_json()) == (400, EXCEEDED)
    summary = client.get(f"{USAGE}/daily-summary", headers=people["ada"]).get_json()
    assert (summary["total_data_bandwidth_used"], summary["upload_count"]) == (LIMIT, 1)
    assert upload(client, people["ada"], 0).status_code == 200


def test_a_deletion_is_logged_and_never_charged(client, people):
    ada = people["ada"]
    delete(client, ada, 70, "x")
    answer = delete(client, ada, 5_000, "old.zip")
    assert answer.status_code == 200
    body = answer.get_json()
    assert {k: v for k, v in body.items() if k != "deletions"} == {
        "email": "ada@acme.io",
        "date": "2026-12-02",
        "file_deleted": "old.zip",
        "file_size": 5_000,
        "updated_deletion_volume": 5_070,
        "total_deletion_count": 2,
    }
    assert [d["file_name"] for d in body["deletions"]] == ["old.zip", "x"]
    assert upload(client, ada, LIMIT).status_code == 200


def alerts(client, headers) -> dict:
    answer = client.get(f"{USAGE}/check-usage-alerts", headers=headers)
    assert answer.status_code == 200
    return answer.get_json()


def test_the_alerts_turn_on_at_exactly_the_ratio_and_at_the_limit(client, people):
    ada = people["ada"]
    upload(client, ada, 799)
    assert alerts(client, ada) == {
        "total_bandwidth_used": 799,
        "bandwidth_total_limit": LIMIT,
        "bandwidth_percentage_used": 79.9,
        "bandwidth_checks": {
            "bandwidth_limit_approaching": False,
            "bandwidth_limit_exceeded": False,
        },
    }
    upload(client, ada, 1)
    checks = alerts(client, ada)["bandwidth_checks"]
    assert checks == {"bandwidth_limit_approaching": True, "bandwidth_limit_exceeded": False}
    upload(client, ada, 199)
    assert not alerts(client, ada)["bandwidth_checks"]["bandwidth_limit_exceeded"]
    upload(client, ada, 1)
    answer = alerts(client, ada)
    assert answer["bandwidth_percentage_used"] == 100.0
    assert answer["bandwidth_checks"]["bandwidth_limit_exceeded"]


def test_an_accounts_own_limit_changes_what_it_may_upload(client, people):
    root, ada = people["root"], people["ada"]
    answer = client.put(
        f"{USAGE}/limit", json={"email": "ADA@acme.io", "daily_limit": 2_000}, headers=root
    )
    assert answer.get_json() == {"email": "ada@acme.io", "daily_limit": 2_000, "default": False}
    assert upload(client, ada, 1_500).status_code == 200
    assert upload(client, people["bob"], 1_500).status_code == 400  # bob keeps the default
    assert alerts(client, ada)["bandwidth_total_limit"] == 2_000
    back = client.put(
        f"{USAGE}/limit", json={"email": "ada@acme.io", "daily_limit": None}, headers=root
    )
    assert back.get_json() == {"email": "ada@acme.io", "daily_limit": LIMIT, "default": True}
    assert upload(client, ada, 1).status_code == 400
    summary = client.get(f"{USAGE}/daily-summary", headers=ada).get_json()
    assert (summary["remaining_bandwidth"], summary["bandwidth_percentage_consumed"]) == (0, 150.0)


def test_answers_list_the_newest_entries_only_and_exact_counts(client, people):
    ada = people["ada"]
    for n in range(5):
        upload(client, ada, 10, f"u{n}")
        delete(client, ada, 1, f"d{n}")
    summary = client.get(f"{USAGE}/daily-summary", headers=ada).get_json()
    assert [u["file_name"] for u in summary["uploads"]] == ["u4", "u3", "u2"]
    assert [d["file_name"] for d in summary["deletions"]] == ["d4", "d3", "d2"]
    assert (summary["upload_count"], summary["total_data_bandwidth_used"]) == (5, 50)
    assert (summary["deletion_count"], summary["total_volume_deleted"]) == (5, 5)


def test_summaries_across_a_utc_day_boundary(client, people, clock):
    ada = people["ada"]
    upload(client, ada, 600, "late.zip")
    delete(client, ada, 50, "d")
    clock.set("2026-12-03T00:10:00")
    today = client.get(f"{USAGE}/daily-summary", headers=ada).get_json()
    assert (today["date"], today["total_data_bandwidth_used"], today["uploads"]) == (
        "2026-12-03",
        0,
        [],
    )
    assert upload(client, ada, 900, "early.zip").status_code == 200  # a new day, a new limit
    answer = client.get(f"{USAGE}/complete-summary?days=3", headers=ada)
    assert answer.status_code == 200
    body = answer.get_json()
    records = body["daily_records"]
    assert [r["date"] for r in records] == ["2026-12-03", "2026-12-02", "2026-12-01"]
    assert [r["total_data_bandwidth_used"] for r in records] == [900, 600, 0]
    assert [u["file_name"] for u in records[1]["uploads"]] == ["late.zip"]
    assert records[2] == {
        "email": "ada@acme.io", "date": "2026-12-01", "total_bandwidth_limit": LIMIT,
        "total_data_bandwidth_used": 0, "remaining_bandwidth": LIMIT,
        "bandwidth_percentage_consumed": 0.0, "upload_count": 0, "uploads": [],
        "deletion_count": 0, "total_volume_deleted": 0, "deletions": [],
    }  # fmt: skip
    assert body["email"] == "ada@acme.io"
    assert body["summary_statistics"] == {
        "date_range": {
            "start": "2026-12-01", "end": "2026-12-03", "total_days": 3,
            "days_with_activity": 2, "days_without_activity": 1,
        },
        "bandwidth_totals": {
            "total_bandwidth_provided": 3 * LIMIT, "total_data_bandwidth_used": 1_500,
            "total_volume_deleted": 50, "overall_bandwidth_percentage_consumed": 50.0,
        },
        "daily_averages": {
            "average_daily_usage": 500.0, "average_daily_deletions": 16.67,
            "average_daily_upload_count": 0.67, "average_daily_deletion_count": 0.33,
            "average_usage_on_active_days": 750.0, "average_deletions_on_active_days": 25.0,
        },
        "activity_totals": {"total_upload_count": 2, "total_deletion_count": 1},
    }  # fmt: skip
    default = client.get(f"{USAGE}/complete-summary", headers=ada).get_json()
    assert len(default["daily_records"]) == 30
    assert default["summary_statistics"]["date_range"]["start"] == "2026-11-04"


def test_a_reset_empties_the_accounts_current_day_only(client, people, clock):
    root, ada = people["root"], people["ada"]
    upload(client, ada, 700)
    clock.set("2026-12-03T00:10:00")
    upload(client, ada, LIMIT)
    upload(client, people["bob"], 100)
    answer = client.post(f"{USAGE}/reset-daily", json={"email": "ada@acme.io"}, headers=root)
    assert (answer.status_code, answer.get_json()) == (
        200,
        {"message": "Daily usage successfully reset."},
    )
    days = client.get(f"{USAGE}/complete-summary?days=2", headers=ada).get_json()["daily_records"]
    assert [(d["date"], d["total_data_bandwidth_used"]) for d in days] == [
        ("2026-12-03", 0),
        ("2026-12-02", 700),
    ]
    assert used_today(client, people["bob"]) == 100
    assert upload(client, ada, LIMIT).status_code == 200


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [("post", "reset-daily", {"email": "ada@acme.io"}),
     ("put", "limit", {"email": "ada@acme.io", "daily_limit": 5})],
)  # fmt: skip
def test_superuser_routes_are_403_for_others_and_404_outside_the_organization(
    client, people, method, route, body
):
    send = getattr(client, method)
    assert_error(send(f"{USAGE}/{route}", json=body, headers=people["ada"]), 403, "FORBIDDEN")
    for email in ("nobody@acme.io", "eve@beta.io"):
        answer = send(f"{USAGE}/{route}", json={**body, "email": email}, headers=people["root"])
        assert_error(answer, 404, "UNKNOWN_ACCOUNT")
    answer = send(f"{USAGE}/{route}", json=body, headers=people["eve"])  # another organization's
    assert_error(answer, 404, "UNKNOWN_ACCOUNT")


ROUTES = [
    ("post", "check-upload-bandwidth", {"file_size": 1}),
    ("post", "log-upload", {"file_name": "f", "file_size": 1}),
    ("post", "log-deletion", {"file_name": "f", "file_size": 1}),
    ("get", "check-usage-alerts", None),
    ("get", "daily-summary", None),
    ("get", "complete-summary", None),
    ("post", "reset-daily", {"email": "ada@acme.io"}),
    ("put", "limit", {"email": "ada@acme.io", "daily_limit": 5}),
]


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_every_route_is_401_without_a_valid_token(client, people, method, route, body):
    send = getattr(client, method)
    assert_error(send(f"{USAGE}/{route}", json=body), 401, "NOT_AUTHENTICATED")
    bad = {"Authorization": "Bearer not.a.token"}
    assert_error(send(f"{USAGE}/{route}", json=body, headers=bad), 401, "INVALID_CREDENTIALS")


BAD_REQUESTS = [
    ("post", "check-upload-bandwidth", {"file_size": -1}),
    ("post", "check-upload-bandwidth", {"file_size": 2**53 + 1}),
    ("post", "check-upload-bandwidth", {"file_size": "12"}),
    ("post", "check-upload-bandwidth", {"file_size": 1.5}),
    ("post", "check-upload-bandwidth", {"file_size": True}),
    ("post", "check-upload-bandwidth", {}),
    ("post", "log-upload", {"file_name": "", "file_size": 1}),
    ("post", "log-upload", {"file_name": "x" * 256, "file_size": 1}),
    ("post", "log-upload", {"file_size": 1}),
    ("post", "log-deletion", {"file_name": "f", "file_size": -5}),
    ("post", "log-deletion", {"file_name": "f"}),
    ("post", "reset-daily", {"email": "not an e-mail"}),
    ("put", "limit", {"email": "ada@acme.io", "daily_limit": 0}),
    ("put", "limit", {"email": "ada@acme.io"}),
]


@pytest.mark.parametrize(("method", "route", "body"), BAD_REQUESTS)
def test_a_bad_body_is_400_in_the_common_shape(client, people, method, route, body):
    answer = getattr(client, method)(f"{USAGE}/{route}", json=body, headers=people["root"])
    assert_error(answer, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("days", ["0", "367", "x"])
def test_a_bad_period_is_400(client, people, days):
    answer = client.get(f"{USAGE}/complete-summary?days={days}", headers=people["ada"])
    assert_error(answer, 400, "INVALID_REQUEST")


def test_limits_at_their_bounds_are_accepted(client, people):
    assert upload(client, people["ada"], 2**53).status_code == 400  # valid, over the limit
    assert upload(client, people["ada"], 1, "x" * 255).status_code == 200


def test_concurrent_uploads_never_pass_the_limit_together(app, client, people):
    for name in ("ada", "bob", "root"):  # three accounts: more chances for a gap to show
        body = {"email": f"{name}@acme.io", "daily_limit": 150}
        client.put(f"{USAGE}/limit", json=body, headers=people["root"])
        headers = people[name]
        # one test client per thread, as concurrent requests each have their own
        statuses = all_at_once(
            30, lambda headers=headers: upload(app.test_client(), headers, 10).status_code
        )
        assert sorted(statuses) == [200] * 15 + [400] * 15
        assert used_today(client, headers) == 150
