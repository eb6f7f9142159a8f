"""POST /api/process (body and path forms): validation, storage, queueing, broker outages."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest

from storage.base import Status
from storage.crypto import package_id_for
from tests.api.api_support import ALLOWED_ORIGIN, bearer, discord_link, new_upn, path_form

ACCEPTED = {"isAccepted": True, "errorMessageCode": None}
INVALID = {"isAccepted": False, "packageId": None, "errorMessageCode": "INVALID_LINK"}


def post_body(client, link):
    return client.post("/api/process", json={"package_link": link})


def post_path(client, link):
    return client.post(path_form(link))


@pytest.mark.parametrize("post", [post_body, post_path], ids=["body", "path"])
def test_a_new_link_is_stored_sealed_and_queued(client, store, settings, queue, post):
    upn = new_upn()
    response = post(client, discord_link(upn))
    package_id = package_id_for(upn)
    assert response.status_code == 202
    assert response.get_json() == {**ACCEPTED, "packageId": package_id}
    assert queue.submitted == [package_id]
    record = store.packages.get(package_id)
    assert record.status == Status.QUEUED
    assert discord_link(upn).encode() not in record.sealed_link
    opened = store.links.open(package_id, record.sealed_link)
    assert opened == discord_link(upn)


@pytest.mark.parametrize("post", [post_body, post_path], ids=["body", "path"])
def test_a_repeated_link_answers_200_without_a_second_job(client, queue, post):
    link = discord_link(new_upn())
    assert post(client, link).status_code == 202
    again = post(client, link)
    assert again.status_code == 200
    assert again.get_json()["isAccepted"] is True
    assert len(queue.submitted) == 1


def test_both_forms_name_the_same_package(client, queue):
    link = discord_link(new_upn())
    first = post_path(client, link)
    second = post_body(client, link)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.get_json()["packageId"] == second.get_json()["packageId"]


def test_an_errored_package_is_requeued_by_a_new_post(client, store, queue, packages):
    upn = new_upn()
    package_id = packages.errored(upn)
    response = post_body(client, discord_link(upn))
    assert response.status_code == 202
    assert store.packages.get(package_id).status == Status.QUEUED
    assert queue.submitted == [package_id]


def test_path_form_without_raw_uri_uses_the_decoded_path(client, queue):
    upn = new_upn()
    response = client.post(
        path_form(discord_link(upn)), environ_overrides={"RAW_URI": None, "REQUEST_URI": None}
    )
    assert response.status_code == 202
    assert response.get_json()["packageId"] == package_id_for(upn)


def test_path_form_with_an_unencoded_query_keeps_the_upn(client):
    upn = new_upn()
    response = client.post(
        "/api/process/" + quote("https://click.discord.com/ls/click") + f"?upn={upn}"
    )
    assert response.status_code == 202
    assert response.get_json()["packageId"] == package_id_for(upn)


def test_path_form_with_raw_slashes_is_not_merged(client):
    upn = new_upn()
    response = client.post(f"/api/process/https://click.discord.com/ls/click%3Fupn%3D{upn}")
    assert response.status_code == 202
    assert response.get_json()["packageId"] == package_id_for(upn)


def test_a_link_of_an_allowed_origin_is_accepted(client, settings):
    link = f"{ALLOWED_ORIGIN}/packages/package.zip"
    response = post_body(client, link)
    assert response.status_code == 202
    assert response.get_json()["packageId"] == package_id_for(link, settings.server_secret())


def test_the_id_of_a_guessable_allow_listed_link_cannot_be_confirmed_without_the_secret(
    client, settings
):
    link = f"{ALLOWED_ORIGIN}/exports/12345.zip"
    package_id = post_body(client, link).get_json()["packageId"]
    assert package_id != hashlib.md5(link.encode()).hexdigest()
    assert package_id != package_id_for(link, b"another server's secret")
    status = client.get(f"/api/process/{package_id}/status", headers=bearer(link))
    assert status.status_code == 200  # the link itself still proves ownership


INVALID_LINKS = [
    "",
    "not a link",
    "https://click.discord.com/ls/click?upn=short",
    "http://click.discord.com/ls/click?upn=" + "a" * 600,
    "https://click.discord.com/other?upn=" + "a" * 600,
    "https://evil.example/ls/click?upn=" + "a" * 600,
    "https://click.discord.com/ls/click?upn=" + "a" * 600 + "&upn=" + "b" * 600,
    "https://user:pw@click.discord.com/ls/click?upn=" + "a" * 600,
    "https://click.discord.com/ls/click?upn=" + "a" * 600 + "#frag",
    "file:///etc/passwd",
    f"{ALLOWED_ORIGIN}/",
    "https://click.discord.com/ls/click?upn=" + "a" * 20000,
]


@pytest.mark.parametrize("link", INVALID_LINKS)
def test_invalid_links_are_refused_in_both_forms(client, store, queue, link):
    assert post_body(client, link).get_json() == INVALID
    assert post_body(client, link).status_code == 400
    if link:
        response = post_path(client, link)
        assert (response.status_code, response.get_json()) == (400, INVALID)
    assert queue.submitted == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}},
        {"json": {"package_link": 42}},
        {"json": ["https://click.discord.com"]},
        {"json": "https://click.discord.com/ls/click"},
        {"data": "not json", "content_type": "application/json"},
        {},
    ],
    ids=["empty", "not-a-string", "a-list", "a-json-string", "not-json", "no-body"],
)
def test_a_missing_or_malformed_body_is_an_invalid_link(client, kwargs):
    response = client.post("/api/process", **kwargs)
    assert (response.status_code, response.get_json()) == (400, INVALID)


def test_broker_outage_is_a_503_and_marks_the_package(client, store, queue):
    queue.broken = True
    upn = new_upn()
    response = post_body(client, discord_link(upn))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json() == {
        "isAccepted": False,
        "packageId": None,
        "errorMessageCode": "BROKER_UNAVAILABLE",
    }
    record = store.packages.get(package_id_for(upn))
    assert (record.status, record.error_code) == (Status.ERRORED, "BROKER_UNAVAILABLE")
    assert record.sealed_link is None


def test_after_an_outage_a_new_post_queues_the_package(client, queue):
    link = discord_link(new_upn())
    queue.broken = True
    assert post_path(client, link).status_code == 503
    queue.broken = False
    assert post_path(client, link).status_code == 202
    assert len(queue.submitted) == 1


def test_the_status_of_an_outage_is_visible_to_the_owner(client, queue):
    upn = new_upn()
    queue.broken = True
    post_body(client, discord_link(upn))
    status = client.get(f"/api/process/{package_id_for(upn)}/status", headers=bearer(upn))
    body = status.get_json()
    assert (body["isErrored"], body["errorMessageCode"]) == (True, "BROKER_UNAVAILABLE")


def test_an_oversized_body_is_refused_before_it_is_read(client):
    response = client.post("/api/process", json={"package_link": "x" * 100_000})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "REQUEST_ENTITY_TOO_LARGE"


def test_path_form_with_an_absolute_form_request_target(client):
    upn = new_upn()
    target = "http://localhost" + path_form(discord_link(upn))
    response = client.post(path_form(discord_link(upn)), environ_overrides={"RAW_URI": target})
    assert response.status_code == 202
    assert response.get_json()["packageId"] == package_id_for(upn)
