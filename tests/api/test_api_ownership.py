"""Ownership and tampering: one 401 for every wrong key, a constant-time check, never a 500."""

from __future__ import annotations

import hmac

import pytest

import api.auth
import storage.crypto
from storage.crypto import SEAL_VERSION, PackageKey, package_id_for
from tests.api.api_support import bearer, new_upn, sample_views

UNAUTHORIZED = {
    "error": {
        "code": "UNAUTHORIZED",
        "message": "a valid 'Authorization: Bearer <UPN>' is required",
    }
}
DATA_ROUTES = ["about", "overview", "stats/ly", "top/dms/ly", "guild/42/stats/l4w", "user/1"]


@pytest.fixture
def alice(packages) -> tuple[str, str]:
    upn = new_upn()
    return upn, packages.processed(upn, sample_views(package_id_for(upn)))


@pytest.fixture
def bob(packages) -> tuple[str, str]:
    upn = new_upn()
    return upn, packages.processed(upn, sample_views(package_id_for(upn)))


def answer(response) -> tuple[int, dict]:
    return response.status_code, response.get_json()


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_another_packages_upn_reads_nothing(client, alice, bob, route):
    response = client.get(f"/api/data/{alice[1]}/{route}", headers=bearer(bob[0]))
    assert answer(response) == (401, UNAUTHORIZED)


def test_another_packages_upn_deletes_nothing(client, store, alice, bob):
    response = client.delete(f"/api/process/{alice[1]}", headers=bearer(bob[0]))
    assert answer(response) == (401, UNAUTHORIZED)
    assert store.packages.get(alice[1]) is not None
    assert client.get(f"/api/data/{alice[1]}/about", headers=bearer(alice[0])).status_code == 200


@pytest.mark.parametrize("route", DATA_ROUTES)
def test_data_401_is_the_same_for_an_existing_and_an_unknown_package(client, alice, route):
    unknown = package_id_for(new_upn())
    answers = {
        repr(answer(client.get(f"/api/data/{package_id}/{route}", headers=headers)))
        for package_id in (alice[1], unknown)
        for headers in ({}, bearer("wrong-upn"), {"Authorization": "Basic x"})
    }
    assert answers == {repr((401, UNAUTHORIZED))}


def tamper_with(store, settings, owner, view: str, change) -> None:
    upn, package_id = owner
    view_id = PackageKey(package_id, upn, settings.server_secret()).view_id(view)
    blob = store.statistics.get(package_id, 1, view_id)
    store.statistics.put_many(package_id, 1, [(view_id, change(bytes(blob)))])


TAMPERINGS = {
    "flipped tag bit": lambda b: b[:-1] + bytes([b[-1] ^ 1]),
    "flipped body bit": lambda b: b[:20] + bytes([b[20] ^ 0x80]) + b[21:],
    "flipped nonce bit": lambda b: b[:1] + bytes([b[1] ^ 1]) + b[2:],
    "truncated": lambda b: b[:-5],
    "too short": lambda b: b[:10],
    "empty": lambda b: b"",
    "unknown version": lambda b: b"\x02" + b[1:],
    "appended": lambda b: b + b"\x00",
    "garbage": lambda b: SEAL_VERSION + bytes(range(64)),
}


@pytest.mark.parametrize("change", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_a_tampered_blob_is_the_same_401_never_a_500(client, store, settings, alice, change):
    tamper_with(store, settings, alice, "stats:ly", change)
    response = client.get(f"/api/data/{alice[1]}/stats/ly", headers=bearer(alice[0]))
    assert answer(response) == (401, UNAUTHORIZED)
    assert (
        client.get(f"/api/data/{alice[1]}/stats/l4w", headers=bearer(alice[0])).status_code == 200
    )


def test_a_blob_of_another_package_is_401(client, store, settings, alice, bob):
    bob_key = PackageKey(bob[1], bob[0], settings.server_secret())
    bobs_about = store.statistics.get(bob[1], 1, bob_key.view_id("about"))
    tamper_with(store, settings, alice, "about", lambda _: bobs_about)
    response = client.get(f"/api/data/{alice[1]}/about", headers=bearer(alice[0]))
    assert answer(response) == (401, UNAUTHORIZED)


def test_ownership_is_checked_by_owns_package(client, alice, monkeypatch):
    calls = []

    def spy(key_material, package_id, server_secret):
        calls.append(package_id)
        return owns(key_material, package_id, server_secret)

    owns = api.auth.owns_package
    monkeypatch.setattr(api.auth, "owns_package", spy)
    client.get(f"/api/data/{alice[1]}/about", headers=bearer(alice[0]))
    client.get(f"/api/process/{alice[1]}/status", headers=bearer("wrong-upn"))
    assert calls == [alice[1], alice[1]]
    assert owns is storage.crypto.owns_package


def test_owns_package_compares_in_constant_time(monkeypatch):
    compared, original = [], hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(storage.crypto.hmac, "compare_digest", spy)
    upn = new_upn()
    assert storage.crypto.owns_package(upn, package_id_for(upn))
    assert not storage.crypto.owns_package("wrong-upn", package_id_for(upn))
    assert not storage.crypto.owns_package(upn, "\u00e9" * 32)
    assert len(compared) == 3
