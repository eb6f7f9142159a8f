"""The Dumpus app's routes (`/dumpus/...`): submit, status in the app's words, the doubled slash
of a base URL typed with a trailing slash, people, DELETE (CORS and limits: `..._cors.py`)."""

from __future__ import annotations

import time

import pytest

from api.dumpus_app_status import APP_ERROR_CODES, ERROR_CODES
from storage.base import Status
from storage.crypto import package_id_for
from tests.api.api_support import bearer, discord_link, new_upn, sample_views
from tests.api.dumpus_app_support import APP_ORIGIN, app_headers, with_app_file

STATUS_KEYS = {
    "isDataAvailable",
    "isUpgraded",
    "isProcessing",
    "isErrored",
    "errorMessageCode",
    "processingStep",
    "processingQueuePosition",
}


def status(client, package_id: str, upn: str | None, path: str = "/dumpus/process"):
    return client.get(f"{path}/{package_id}/status", headers=app_headers(upn))


def assert_app_cors(response, origin: str = APP_ORIGIN) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in response.headers


# -- submit ---------------------------------------------------------------------------------------


def test_the_app_submits_a_link_and_posting_it_again_queues_nothing(client, queue):
    link = discord_link(new_upn())
    first = client.post("/dumpus/process", json={"package_link": link}, headers=app_headers())
    assert first.status_code == 202
    assert first.get_json() == {
        "isAccepted": True,
        "packageId": package_id_for(link.split("upn=")[1]),
        "errorMessageCode": None,
    }
    assert_app_cors(first)
    again = client.post("/dumpus/process", json={"package_link": link}, headers=app_headers())
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert queue.submitted == [first.get_json()["packageId"]]


@pytest.mark.parametrize("body", [{"package_link": "https://example.com/x"}, {}, {"x": 1}])
def test_a_refused_link_is_invalid_link_in_the_apps_shape(client, body):
    answer = client.post("/dumpus/process", json=body, headers=app_headers())
    assert answer.status_code == 400
    assert answer.get_json() == {
        "isAccepted": False,
        "packageId": None,
        "errorMessageCode": "INVALID_LINK",
    }
    assert_app_cors(answer)


def test_a_broker_outage_is_a_code_the_app_can_show(client, queue):
    queue.broken = True
    answer = client.post(
        "/dumpus/process", json={"package_link": discord_link(new_upn())}, headers=app_headers()
    )
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.get_json()["errorMessageCode"] == "UNKNOWN_ERROR"


# -- the base URL typed with a trailing slash -----------------------------------------------------


def test_a_doubled_slash_after_the_base_url_is_served_without_a_redirect(client, packages):
    upn = new_upn()
    package_id = packages.queued(upn)
    answer = status(client, package_id, upn, path="/dumpus//process")
    assert answer.status_code == 200 and answer.get_json()["processingStep"] == "LOCKED"
    link = discord_link(new_upn())
    posted = client.post("/dumpus//process", json={"package_link": link}, headers=app_headers())
    assert posted.status_code == 202


# -- status ---------------------------------------------------------------------------------------


def test_a_queued_package_is_locked_with_its_place_in_line(client, packages):
    first, second = new_upn(), new_upn()
    packages.queued(first, at=100.0)
    package_id = packages.queued(second, at=200.0)
    document = status(client, package_id, second).get_json()
    assert set(document) == STATUS_KEYS
    assert document["processingStep"] == "LOCKED" and document["isProcessing"] is True
    assert document["isUpgraded"] is False and document["isErrored"] is False
    position = document["processingQueuePosition"]
    assert position["standardQueueUser"] == 1 and position["standardQueueTotal"] == 2
    assert status(client, packages.queued(new_upn(), at=1.0), None).status_code == 401


def test_running_steps_are_shown_as_they_are(client, packages, store):
    upn = new_upn()
    package_id = packages.claimed(upn)
    assert status(client, package_id, upn).get_json()["processingStep"] == "DOWNLOADING"
    store.packages.set_step(package_id, "token", Status.ANALYZING, 50, None, None, time.time())
    document = status(client, package_id, upn).get_json()
    assert document["processingStep"] == "ANALYZING"
    assert isinstance(document["processingQueuePosition"]["standardQueueUser"], int)


def test_processed_with_its_file_is_processed(client, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    answer = status(client, package_id, upn)
    assert answer.status_code == 200
    assert_app_cors(answer)
    document = answer.get_json()
    assert document["processingStep"] == "PROCESSED" and document["isDataAvailable"] is True
    assert document["isErrored"] is False and document["errorMessageCode"] is None


def test_a_package_without_an_owner_is_missing_user_data(client, packages, store):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    store.app_files.put_unavailable(package_id, 1, "MISSING_USER_DATA")
    document = status(client, package_id, upn).get_json()
    assert document["isErrored"] is True and document["errorMessageCode"] == "MISSING_USER_DATA"
    assert document["processingStep"] is None  # never PROCESSED: that would start a download


def test_processed_without_a_file_is_an_error_the_app_shows(client, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))  # files were off
    document = status(client, package_id, upn).get_json()
    assert (document["isErrored"], document["errorMessageCode"]) == (True, "UNKNOWN_ERROR")


@pytest.mark.parametrize(
    ("ours", "theirs"), [*sorted(ERROR_CODES.items()), ("NEW_CODE", "UNKNOWN_ERROR")]
)
def test_each_error_code_is_one_the_app_knows(client, packages, ours, theirs):
    upn = new_upn()
    package_id = packages.errored(upn, ours)
    document = status(client, package_id, upn).get_json()
    assert document["isErrored"] is True and document["processingStep"] is None
    assert document["errorMessageCode"] == theirs and theirs in APP_ERROR_CODES


def test_a_wrong_upn_is_401_in_the_apps_shape(client, packages):
    package_id = packages.queued(new_upn())
    for upn in (new_upn(), None):
        answer = status(client, package_id, upn)
        assert answer.status_code == 401
        assert_app_cors(answer)
        document = answer.get_json()
        assert set(document) == STATUS_KEYS and document["errorMessageCode"] == "UNAUTHORIZED"
        assert document["isErrored"] is True  # the app stops polling


def test_an_unknown_package_is_404_in_the_apps_shape(client):
    upn = new_upn()
    answer = status(client, package_id_for(upn), upn)
    assert answer.status_code == 404
    document = answer.get_json()
    assert document["errorMessageCode"] == "UNKNOWN_PACKAGE_ID" and document["isErrored"] is True
    assert isinstance(document["processingQueuePosition"], dict)


# -- people ---------------------------------------------------------------------------------------


def test_people_come_from_the_packages_own_profiles(client, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    owner = client.get(f"/dumpus/process/{package_id}/user/1", headers=app_headers(upn))
    assert owner.status_code == 200
    assert_app_cors(owner)
    assert owner.get_json() == {
        "user_id": "1",
        "username": "alice",
        "display_name": "Alice",
        "avatar_url": None,
    }
    person = client.get(f"/dumpus/process/{package_id}/user/100", headers=app_headers(upn))
    assert person.get_json()["user_id"] == "100" and person.get_json()["username"] == "friend0"


@pytest.mark.parametrize("user_id", ["424242", "not-a-snowflake"])
def test_an_unknown_person_is_404(client, packages, user_id):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    answer = client.get(f"/dumpus/process/{package_id}/user/{user_id}", headers=app_headers(upn))
    assert answer.status_code == 404


def test_people_need_the_owner_and_a_processed_package(client, packages):
    upn = new_upn()
    processed = packages.processed(upn, sample_views(package_id_for(upn)))
    wrong = client.get(f"/dumpus/process/{processed}/user/1", headers=app_headers(new_upn()))
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "UNAUTHORIZED"
    queued_upn = new_upn()
    queued = packages.queued(queued_upn)
    early = client.get(f"/dumpus/process/{queued}/user/1", headers=app_headers(queued_upn))
    assert early.status_code == 404


# -- delete ---------------------------------------------------------------------------------------


def test_delete_removes_the_package_its_statistics_and_its_file(client, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    answer = client.delete(f"/dumpus/process/{package_id}", headers=app_headers(upn))
    assert answer.status_code == 200
    assert answer.get_json() == {"isDeleted": True, "errorMessageCode": None}
    assert_app_cors(answer)
    assert store.packages.get(package_id) is None
    assert (
        store.statistics.orphan_package_ids() == [] and store.app_files.get(package_id, 1) is None
    )
    assert not list(store.app_files.folder.iterdir())
    again = client.delete(f"/dumpus/process/{package_id}", headers=app_headers(upn))
    assert again.status_code == 404
    assert again.get_json() == {"isDeleted": False, "errorMessageCode": "UNKNOWN_PACKAGE_ID"}


def test_delete_by_another_upn_is_401_with_a_json_body(client, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    answer = client.delete(f"/dumpus/process/{package_id}", headers=app_headers(new_upn()))
    assert answer.status_code == 401
    assert answer.get_json() == {"isDeleted": False, "errorMessageCode": "UNAUTHORIZED"}
    assert store.app_files.get(package_id, 1) is not None


def test_our_own_delete_removes_the_app_file_too(client, packages, store):
    upn = new_upn()
    package_id, *_ = with_app_file(packages, store, upn)
    assert client.delete(f"/api/process/{package_id}", headers=bearer(upn)).status_code == 200
    assert store.app_files.get(package_id, 1) is None
