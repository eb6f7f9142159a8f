"""A store's shoppers (issue 13): every route, status code and scope rule; the personal fields
reach only the vault, and never a log line."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from storage.identity import new_api_key
from tests.api.store_support import assert_error, store_headers

ADA = {
    "email": "Ada@Example.org",
    "username": "ada",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "+44 20 7946 0000",
}


def _created(client, headers, body=None) -> dict:
    answer = client.post("/api/user", json=body or ADA, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_user_is_created_found_by_email_updated_and_deleted(client, shop):
    store_id, headers = shop
    made = _created(client, headers)
    assert uuid.UUID(made["id"]) and made["store_id"] == store_id
    assert {k: made[k] for k in ADA} == ADA
    found = client.get("/api/user/ada@example.ORG", headers=headers)
    assert found.status_code == 200 and found.get_json() == {"id": made["id"]}
    by_email = client.patch(
        "/api/user", json={"email": ADA["email"], "phone": "1"}, headers=headers
    )
    assert by_email.status_code == 201
    assert by_email.get_json() == {"message": "User successfully updated"}
    new_email = {"id": made["id"], "email": "countess@example.org"}
    assert client.patch("/api/user", json=new_email, headers=headers).status_code == 201
    assert_error(client.get(f"/api/user/{ADA['email']}", headers=headers), 404, "UNKNOWN_USER")
    assert (
        client.get("/api/user/countess@example.org", headers=headers).get_json()["id"] == made["id"]
    )
    deleted = client.delete(f"/api/user/{made['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.get_json() == {
        "message": "User successfully deleted"
    }
    assert_error(client.delete(f"/api/user/{made['id']}", headers=headers), 404, "UNKNOWN_USER")


def test_the_fields_live_in_the_vault_only(client, app, shop):
    store_id, headers = shop
    made = _created(client, headers)
    vault = app.extensions["dumpus"].shopper_vault()
    shopper = vault.get(store_id, made["id"])
    assert shopper is not None and shopper.fields.last_name == "Lovelace"
    client.patch("/api/user", json={"id": made["id"], "last_name": "King"}, headers=headers)
    assert vault.get(store_id, made["id"]).fields.last_name == "King"


def test_an_email_is_taken_once_per_store(client, store, acme, shop):
    _, headers = shop
    first = _created(client, headers)
    assert_error(
        client.post("/api/user", json={"email": "ADA@example.org"}, headers=headers),
        409,
        "USER_EXISTS",
    )
    second = _created(client, headers, {"email": "grace@example.org"})
    to_taken = {"id": second["id"], "email": "ada@example.org"}
    assert_error(client.patch("/api/user", json=to_taken, headers=headers), 409, "USER_EXISTS")
    _other_store, other_headers = store_headers(client, store, acme)
    assert _created(client, other_headers)["id"] != first["id"]  # another store: its own Ada


def test_a_store_sees_and_changes_its_own_users_only(client, store, acme, shop):
    _, headers = shop
    made = _created(client, headers)
    _other_store, other = store_headers(client, store, acme)
    assert_error(client.get(f"/api/user/{ADA['email']}", headers=other), 404, "UNKNOWN_USER")
    assert_error(
        client.patch("/api/user", json={"id": made["id"], "phone": "1"}, headers=other),
        404,
        "UNKNOWN_USER",
    )
    assert_error(client.delete(f"/api/user/{made['id']}", headers=other), 404, "UNKNOWN_USER")
    assert client.get(f"/api/user/{ADA['email']}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/user", {"email": "not-an-address"}),
        ("post", "/api/user", {"username": "no address"}),
        ("post", "/api/user", {**ADA, "phone": "9" * 41}),
        ("patch", "/api/user", {"phone": "1"}),  # who?
        ("patch", "/api/user", {"email": "ada@example.org"}),  # found, but nothing to change
        ("patch", "/api/user", {"id": "not-a-uuid", "phone": "1"}),
        ("delete", "/api/user/not-a-uuid", None),
    ],
)
def test_bad_requests_are_400(client, shop, method, path, body):
    _, headers = shop
    assert_error(
        client.open(path, method=method.upper(), json=body, headers=headers), 400, "INVALID_REQUEST"
    )


def test_unknown_users_are_404(client, shop):
    _, headers = shop
    assert_error(client.get("/api/user/nobody@example.org", headers=headers), 404, "UNKNOWN_USER")
    body = {"email": "nobody@example.org", "phone": "1"}
    assert_error(client.patch("/api/user", json=body, headers=headers), 404, "UNKNOWN_USER")
    assert_error(client.delete(f"/api/user/{uuid.uuid4()}", headers=headers), 404, "UNKNOWN_USER")


def test_only_a_store_token_reaches_the_users(client, store, acme, shop):
    store_id, headers = shop
    root = store.identity.accounts.create("root@acme.io", "r", acme.id, True, time.time())
    key = new_api_key()
    store.identity.api_keys.create(root.id, "laptop", key, time.time())
    token = client.post("/api/auth", json={"api_key": key}).get_json()["access_token"]
    account = {"Authorization": f"Bearer {token}"}
    assert_error(client.post("/api/user", json=ADA, headers=account), 401, "INVALID_CREDENTIALS")
    assert_error(client.post("/api/user", json=ADA), 401, "NOT_AUTHENTICATED")
    store.identity.storefronts.update(store_id, is_active=False)
    assert_error(client.post("/api/user", json=ADA, headers=headers), 403, "STORE_BLOCKED")


def test_no_personal_field_reaches_a_log_line(client, shop, caplog):
    caplog.set_level(logging.DEBUG)
    _, headers = shop
    made = _created(client, headers)
    client.get(f"/api/user/{ADA['email']}", headers=headers)
    client.patch("/api/user", json={"email": ADA["email"], "phone": "5550100"}, headers=headers)
    client.post("/api/user", json=ADA, headers=headers)  # 409
    client.delete(f"/api/user/{made['id']}", headers=headers)
    text = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert "/api/user/<email>" in text  # the access lines name the template
    for value in ("example.org", "lovelace", "7946", "5550100"):
        assert value not in text, value


def test_deleting_a_store_deletes_its_users(client, app, store, acme, shop):
    store_id, headers = shop
    made = _created(client, headers)
    _other, other_headers = store_headers(client, store, acme)
    kept = _created(client, other_headers)
    root = store.identity.accounts.create("root@acme.io", "r", acme.id, True, time.time())
    key = new_api_key()
    store.identity.api_keys.create(root.id, "laptop", key, time.time())
    token = client.post("/api/auth", json={"api_key": key}).get_json()["access_token"]
    answer = client.delete(f"/api/store/{store_id}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    vault = app.extensions["dumpus"].shopper_vault()
    assert vault.get(store_id, made["id"]) is None and vault.count(store_id) == 0
    assert vault.get(_other, kept["id"]) is not None
