"""GET /api/process/<id>/status and DELETE /api/process/<id>: ownership, fields, deletion."""

from __future__ import annotations

import calendar
import time

import pytest

from storage.base import Status
from storage.crypto import PackageKey, package_id_for
from tests.api.api_support import TEST_CONFIG, bearer, discord_link, new_upn, sample_views

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def status_of(client, package_id, upn):
    return client.get(f"/api/process/{package_id}/status", headers=bearer(upn))


def test_a_queued_package_reports_its_place_in_line(client, packages):
    upns = [new_upn() for _ in range(4)]
    ids = [packages.queued(upn, at=T0 + i) for i, upn in enumerate(upns)]
    response = status_of(client, ids[2], upns[2])
    assert response.status_code == 200
    body = response.get_json()
    assert body["processingQueuePosition"] == {"user": 2, "total": 4}
    assert body["processingStep"] == "QUEUED"
    assert (body["isProcessing"], body["isDataAvailable"], body["isErrored"]) == (
        True,
        False,
        False,
    )
    assert body["progress"] == {"percent": 0, "bytesDone": None, "bytesTotal": None}
    assert body["queuedAt"] == "2024-05-01T12:00:02Z"
    assert (body["startedAt"], body["finishedAt"], body["errorMessageCode"]) == (None, None, None)
    first = status_of(client, ids[0], upns[0]).get_json()
    assert first["processingQueuePosition"] == {"user": 0, "total": 4}


def test_a_running_package_reports_its_step_and_bytes(client, store, packages):
    upn = new_upn()
    packages.queued(upn, at=T0)
    package_id = package_id_for(upn)
    store.packages.claim(package_id, "token", T0 + 60, 0.0)
    store.packages.set_step(package_id, "token", Status.DOWNLOADING, 40, 400, 1000, T0 + 61)
    packages.queued(new_upn(), at=T0 + 5)
    body = status_of(client, package_id, upn).get_json()
    assert body["processingStep"] == "DOWNLOADING"
    assert body["progress"] == {"percent": 40, "bytesDone": 400, "bytesTotal": 1000}
    assert body["processingQueuePosition"] == {"user": 0, "total": 1}
    assert (body["queuedAt"], body["startedAt"]) == ("2024-05-01T12:00:00Z", "2024-05-01T12:01:00Z")
    store.packages.set_step(package_id, "token", Status.ANALYZING, 70, 1000, 1000, T0 + 90)
    body = status_of(client, package_id, upn).get_json()
    assert (body["processingStep"], body["progress"]["percent"]) == ("ANALYZING", 70)
    assert body["isProcessing"] is True


def test_a_processed_package_reports_data_available(client, packages):
    upn = new_upn()
    package_id = packages.processed(upn, {"about": {}})
    body = status_of(client, package_id, upn).get_json()
    assert body["isDataAvailable"] is True
    assert (body["isProcessing"], body["isErrored"]) == (False, False)
    assert body["processingStep"] == "PROCESSED"
    assert body["progress"]["percent"] == 100
    assert body["finishedAt"] is not None and body["finishedAt"].endswith("Z")


def test_an_errored_package_reports_its_code_and_no_step(client, packages):
    upn = new_upn()
    package_id = packages.errored(upn, "PACKAGE_TOO_LARGE")
    body = status_of(client, package_id, upn).get_json()
    assert (body["isErrored"], body["errorMessageCode"]) == (True, "PACKAGE_TOO_LARGE")
    assert (body["processingStep"], body["isProcessing"], body["isDataAvailable"]) == (
        None,
        False,
        False,
    )


def test_status_of_a_package_submitted_through_the_api(client):
    upn = new_upn()
    before = time.time()
    package_id = client.post("/api/process", json={"package_link": discord_link(upn)}).get_json()[
        "packageId"
    ]
    body = status_of(client, package_id, upn).get_json()
    assert body["processingStep"] == "QUEUED"
    queued = calendar.timegm(time.strptime(body["queuedAt"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before - 1 <= queued <= time.time()


UNAUTHORIZED = {
    "error": {
        "code": "UNAUTHORIZED",
        "message": "a valid 'Authorization: Bearer <UPN>' is required",
    }
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-upn"},
        {"Authorization": "Bearer two words"},
        {"Authorization": "Bearer caf\u00e9"},
    ],
    ids=["missing", "basic", "no-token", "blank", "wrong", "spaces", "non-ascii"],
)
@pytest.mark.parametrize("method", ["get_status", "delete"])
def test_401_is_the_same_for_a_wrong_upn_and_an_unknown_package(client, packages, headers, method):
    upn = new_upn()
    existing = packages.queued(upn)
    unknown = package_id_for(new_upn())
    answers = []
    for package_id in (existing, unknown):
        if method == "delete":
            response = client.delete(f"/api/process/{package_id}", headers=headers)
        else:
            response = client.get(f"/api/process/{package_id}/status", headers=headers)
        answers.append((response.status_code, response.get_json()))
    assert answers == [(401, UNAUTHORIZED), (401, UNAUTHORIZED)]


def test_another_owners_upn_is_refused(client, packages):
    alice, bob = new_upn(), new_upn()
    package_id = packages.queued(alice)
    packages.queued(bob)
    assert status_of(client, package_id, bob).status_code == 401


def test_the_owner_of_an_unknown_package_gets_404(client):
    upn = new_upn()
    response = status_of(client, package_id_for(upn), upn)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "UNKNOWN_PACKAGE_ID"


@pytest.mark.parametrize("bad_id", ["xyz", "A" * 32, "0" * 31, "0" * 33, "\u00e9" * 32])
def test_a_malformed_package_id_is_unknown(client, bad_id):
    response = client.get(f"/api/process/{bad_id}/status", headers=bearer(new_upn()))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "UNKNOWN_PACKAGE_ID"
    assert client.delete(f"/api/process/{bad_id}").status_code == 404


def test_delete_removes_the_package_and_its_statistics(client, store, settings, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    key = PackageKey(package_id, upn, settings.server_secret())
    assert store.statistics.get(package_id, 1, key.view_id("about")) is not None
    response = client.delete(f"/api/process/{package_id}", headers=bearer(upn))
    assert (response.status_code, response.get_json()) == (
        200,
        {"isDeleted": True, "errorMessageCode": None},
    )
    assert store.packages.get(package_id) is None
    assert store.statistics.get(package_id, 1, key.view_id("about")) is None
    assert store.statistics.orphan_package_ids() == []
    again = client.delete(f"/api/process/{package_id}", headers=bearer(upn))
    assert (again.status_code, again.get_json()["error"]["code"]) == (404, "UNKNOWN_PACKAGE_ID")
    assert client.get(f"/api/data/{package_id}/about", headers=bearer(upn)).status_code == 404


def test_delete_of_a_running_package_takes_its_claim(client, store, packages):
    upn = new_upn()
    package_id = packages.claimed(upn)
    assert client.delete(f"/api/process/{package_id}", headers=bearer(upn)).status_code == 200
    lost = store.packages.set_step(package_id, "token", Status.ANALYZING, 50, None, None, T0)
    assert lost is False


def test_timestamps_come_from_the_app_clock(settings, store, queue):
    from api import create_app

    app = create_app(
        {**TEST_CONFIG, "CLOCK": lambda: T0 + 0.9}, settings=settings, store=store, queue=queue
    )
    client = app.test_client()
    upn = new_upn()
    client.post("/api/process", json={"package_link": discord_link(upn)})
    body = status_of(client, package_id_for(upn), upn).get_json()
    assert body["queuedAt"] == "2024-05-01T12:00:00Z"
