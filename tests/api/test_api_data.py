"""Data routes: ownership, status, one view read and decrypted, slicing and period narrowing."""

from __future__ import annotations

import pytest

from storage.base import Status
from storage.crypto import PackageKey, package_id_for
from tests.api.api_support import ENTITY_PERIODS, bearer, new_upn, sample_views


@pytest.fixture
def owner(packages):
    """(upn, package id) of a processed package holding the sample views."""
    upn = new_upn()
    return upn, packages.processed(upn, sample_views(package_id_for(upn)))


def get(client, owner, route, **kwargs):
    upn, package_id = owner
    return client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn), **kwargs)


def error_code(response):
    return response.status_code, response.get_json()["error"]["code"]


def test_about_and_overview_are_served_as_stored(client, owner):
    about = get(client, owner, "about")
    assert about.status_code == 200
    assert about.get_json() == sample_views(owner[1])["about"]
    overview = get(client, owner, "overview")
    assert (overview.status_code, overview.get_json()["messages"]) == (200, 5230)
    assert about.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("period", ["l4w", "l1m", "ly", "lifetime"])
def test_period_stats(client, owner, period):
    response = get(client, owner, f"stats/{period}")
    assert response.status_code == 200
    assert response.get_json() == {"period": period, **ENTITY_PERIODS[period]}


@pytest.mark.parametrize("route", ["stats/l2w", "stats/LY", "top/dms/week", "guild/42/stats/x"])
def test_an_unknown_period_is_400(client, owner, route):
    assert error_code(get(client, owner, route)) == (400, "INVALID_PERIOD")


@pytest.mark.parametrize("kind", ["friends", "DMS", "dm"])
def test_an_unknown_top_type_is_400(client, owner, kind):
    assert error_code(get(client, owner, f"top/{kind}/ly")) == (400, "INVALID_TYPE")


def test_top_defaults_to_the_first_ten(client, owner):
    body = get(client, owner, "top/dms/ly").get_json()
    assert (body["type"], body["period"], body["total"]) == ("dms", "ly", 25)
    assert (body["limit"], body["offset"]) == (10, 0)
    assert [e["user_id"] for e in body["entries"]] == [str(100 + i) for i in range(10)]


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [(5, 20, list(range(20, 25))), (3, 2, [2, 3, 4]), (100, 0, list(range(25))), (10, 30, [])],
)
def test_top_is_sliced_by_limit_and_offset(client, owner, limit, offset, expected):
    body = get(client, owner, "top/dms/ly", query_string={"limit": limit, "offset": offset})
    body = body.get_json()
    assert (body["limit"], body["offset"], body["total"]) == (limit, offset, 25)
    assert [e["user_id"] for e in body["entries"]] == [str(100 + i) for i in expected]


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1}, {"offset": "x"}],
)
def test_bad_limit_or_offset_is_400(client, owner, query):
    response = get(client, owner, "top/dms/ly", query_string=query)
    assert error_code(response) == (400, "INVALID_REQUEST")


def test_a_top_list_the_package_lacks_is_404(client, owner):
    assert error_code(get(client, owner, "top/guilds/l4w")) == (404, "UNKNOWN_VIEW")


def test_guild_stats_are_narrowed_to_the_period(client, owner):
    body = get(client, owner, "guild/42/stats/l1m").get_json()
    assert "periods" not in body
    assert body == {
        "guild_id": "42",
        "name": "My server",
        "channels": [{"channel_id": "7", "name": "general", "messages": 300}],
        "period": "l1m",
        **ENTITY_PERIODS["l1m"],
    }
    assert len(body["messages"]["per_day"]) == body["days"] == 30


def test_the_unknown_server_has_stats(client, owner):
    body = get(client, owner, "guild/unknown/stats/lifetime").get_json()
    assert (body["guild_id"], body["period"], body["days"]) == ("unknown", "lifetime", 1583)


@pytest.mark.parametrize(
    ("route", "code"),
    [
        ("guild/43/stats/ly", "UNKNOWN_GUILD"),
        ("guild/abc/stats/ly", "UNKNOWN_GUILD"),
        ("dm/101/stats/ly", "UNKNOWN_DM"),
        ("dm/x1/stats/ly", "UNKNOWN_DM"),
        ("channel/8/stats/ly", "UNKNOWN_CHANNEL"),
        ("channel/" + "9" * 33 + "/stats/ly", "UNKNOWN_CHANNEL"),
        ("user/2", "UNKNOWN_USER"),
        ("user/me", "UNKNOWN_USER"),
    ],
)
def test_unknown_or_malformed_entities_are_404(client, owner, route, code):
    assert error_code(get(client, owner, route)) == (404, code)


def test_dm_stats_by_user_id_and_by_dm_channel_id(client, owner):
    by_user = get(client, owner, "dm/100/stats/l4w").get_json()
    by_channel = get(client, owner, "dm/900/stats/l4w").get_json()
    assert by_user == by_channel
    assert (by_user["user_id"], by_user["period"], by_user["days"]) == ("100", "l4w", 28)
    assert by_user["channel_ids"] == ["900"]
    assert "periods" not in by_user


def test_channel_stats(client, owner):
    body = get(client, owner, "channel/7/stats/ly").get_json()
    assert (body["channel_id"], body["kind"], body["guild_id"], body["period"]) == (
        "7",
        "guild",
        "42",
        "ly",
    )
    assert body["messages"]["total"] == 50


def test_user_profile(client, owner):
    body = get(client, owner, "user/1").get_json()
    assert body == sample_views(owner[1])["user:1"]


DATA_ROUTES = [
    "about",
    "overview",
    "stats/ly",
    "top/dms/ly",
    "guild/42/stats/ly",
    "dm/100/stats/ly",
    "channel/7/stats/ly",
    "user/1",
]


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_every_data_route_answers_401_alike_for_unknown_and_foreign_packages(client, owner, route):
    intruder = new_upn()
    _, package_id = owner
    unknown = package_id_for(new_upn())
    answers = [
        client.get(f"/api/data/{pid}/{route}", headers=headers)
        for pid in (package_id, unknown)
        for headers in ({}, bearer(intruder))
    ]
    assert {(r.status_code, r.get_data()) for r in answers} == {
        (answers[0].status_code, answers[0].get_data())
    }
    assert error_code(answers[0]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_every_data_route_answers_404_for_the_owner_of_an_unknown_package(client, route):
    upn = new_upn()
    response = client.get(f"/api/data/{package_id_for(upn)}/{route}", headers=bearer(upn))
    assert error_code(response) == (404, "UNKNOWN_PACKAGE_ID")


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_a_malformed_package_id_is_404(client, route):
    response = client.get(f"/api/data/NOT-AN-ID/{route}", headers=bearer(new_upn()))
    assert error_code(response) == (404, "UNKNOWN_PACKAGE_ID")


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_a_package_not_yet_processed_is_409_with_its_step(client, packages, store, route):
    upn = new_upn()
    package_id = packages.queued(upn)
    response = client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn))
    assert error_code(response) == (409, "NOT_PROCESSED")
    assert response.get_json()["error"]["processingStep"] == "QUEUED"
    store.packages.claim(package_id, "token", 1.0, 0.0)
    store.packages.set_step(package_id, "token", Status.ANALYZING, 50, None, None, 2.0)
    response = client.get(f"/api/data/{package_id}/{route}", headers=bearer(upn))
    assert response.get_json()["error"]["processingStep"] == "ANALYZING"


def test_an_errored_package_is_409_with_its_error_code(client, packages):
    upn = new_upn()
    package_id = packages.errored(upn, "INVALID_PACKAGE")
    response = client.get(f"/api/data/{package_id}/about", headers=bearer(upn))
    assert error_code(response) == (409, "NOT_PROCESSED")
    error = response.get_json()["error"]
    assert (error["processingStep"], error["errorMessageCode"]) == (None, "INVALID_PACKAGE")


def test_a_tampered_view_is_401_not_500(client, store, settings, owner):
    upn, package_id = owner
    key = PackageKey(package_id, upn, settings.server_secret())
    view_id = key.view_id("about")
    blob = bytearray(store.statistics.get(package_id, 1, view_id))
    blob[-1] ^= 1
    store.statistics.put_many(package_id, 1, [(view_id, bytes(blob))])
    assert error_code(get(client, owner, "about")) == (401, "UNAUTHORIZED")


def test_a_view_sealed_for_another_view_name_is_401(client, store, settings, owner):
    upn, package_id = owner
    key = PackageKey(package_id, upn, settings.server_secret())
    other = store.statistics.get(package_id, 1, key.view_id("overview"))
    store.statistics.put_many(package_id, 1, [(key.view_id("about"), other)])
    assert error_code(get(client, owner, "about")) == (401, "UNAUTHORIZED")


def test_views_of_another_generation_are_not_read(client, packages, store, settings):
    upn = new_upn()
    package_id = packages.processed(upn, {"about": {"generation": 2}}, generation=2)
    key = PackageKey(package_id, upn, settings.server_secret())
    store.statistics.put_many(package_id, 1, [(key.view_id("about"), key.seal("about", {}))])
    response = client.get(f"/api/data/{package_id}/about", headers=bearer(upn))
    assert response.get_json() == {"generation": 2}
