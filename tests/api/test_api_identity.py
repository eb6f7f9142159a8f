"""Account tokens and the superuser routes: every bearer error, every rule, pagination."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from api import account_tokens
from storage.identity import new_api_key

SECRET = b"test-secret"  # tests/api/conftest.py's settings


@pytest.fixture
def org(store):
    return store.identity.organizations.create("Acme", time.time())


def _account(store, org, email, superuser=False):
    account = store.identity.accounts.create(
        email, email.split("@")[0], org.id, superuser, time.time()
    )
    key = new_api_key()
    record = store.identity.api_keys.create(account.id, "test", key, time.time())
    return account, key, record


@pytest.fixture
def admin(store, org):
    return _account(store, org, "root@acme.io", superuser=True)


@pytest.fixture
def member(store, org):
    return _account(store, org, "ada@acme.io")


def _token(client, key) -> str:
    answer = client.post("/api/auth", json={"api_key": key})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["token_type"] == "Bearer"
    return body["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(answer, code: str, message: str) -> None:
    assert answer.status_code == 401
    assert answer.get_json()["error"] == {"code": code, "message": message}
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_gives_a_token_naming_its_account_for_an_hour(client, member):
    account, key, record = member
    token = _token(client, key)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == account.id and claims["key"] == record.id
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    me = client.get("/api/v1/accounts/me", headers=_bearer(token)).get_json()
    assert me["id"] == account.id and me["organization"]["name"] == "Acme"


@pytest.mark.parametrize("body", [{"api_key": "dpk_unknown"}, {"api_key": "x" * 40}])
def test_an_unknown_key_is_refused(client, body):
    _refused(
        client.post("/api/auth", json=body), "INVALID_CREDENTIALS", "Could not validate credentials"
    )


@pytest.mark.parametrize("body", [{}, {"api_key": ""}, {"api_key": 5}, {"key": "a"}])
def test_a_malformed_auth_body_is_a_400(client, body):
    answer = client.post("/api/auth", json=body)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token abc", "Bearer a b"]
)
def test_no_or_a_malformed_header_is_not_authenticated(client, header):
    headers = {} if header is None else {"Authorization": header}
    answer = client.get("/api/v1/accounts/me", headers=headers)
    _refused(answer, "NOT_AUTHENTICATED", "Not authenticated")


def test_a_token_signed_with_another_secret_is_refused(client, member):
    account, _key, record = member
    forged = account_tokens.issue(account.id, record.id, b"another-secret", time.time(), 3600)
    answer = client.get("/api/v1/accounts/me", headers=_bearer(forged))
    _refused(answer, "INVALID_CREDENTIALS", "Could not validate credentials")


def test_an_unsigned_or_tampered_token_is_refused(client, member):
    account, key, record = member
    token = _token(client, key)
    none_alg = jwt.encode(
        {"sub": account.id, "key": record.id, "iat": 1, "exp": 2**40}, None, "none"
    )
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}x.{signature}"
    for bad in (none_alg, tampered, "eyJ.not.jwt"):
        answer = client.get("/api/v1/accounts/me", headers=_bearer(bad))
        _refused(answer, "INVALID_CREDENTIALS", "Could not validate credentials")


def test_an_expired_token_says_so(client, member):
    account, _key, record = member
    expired = account_tokens.issue(account.id, record.id, SECRET, time.time() - 7200, 3600)
    _refused(
        client.get("/api/v1/accounts/me", headers=_bearer(expired)),
        "TOKEN_EXPIRED",
        "JWT token expired",
    )


def test_a_revoked_key_ends_its_tokens_and_trades_no_more(client, store, member):
    _, key, record = member
    token = _token(client, key)
    store.identity.api_keys.revoke(record.id, time.time())
    message = "Could not validate credentials"
    _refused(
        client.get("/api/v1/accounts/me", headers=_bearer(token)), "INVALID_CREDENTIALS", message
    )
    _refused(client.post("/api/auth", json={"api_key": key}), "INVALID_CREDENTIALS", message)


def test_an_inactive_account_or_organization_ends_its_tokens(client, store, org, member):
    account, key, _record = member
    token = _token(client, key)
    message = "Could not validate credentials"
    store.identity.accounts.set_active(account.id, False)
    _refused(
        client.get("/api/v1/accounts/me", headers=_bearer(token)), "INVALID_CREDENTIALS", message
    )
    store.identity.accounts.set_active(account.id, True)
    store.identity.organizations.set_active(org.id, False)
    _refused(client.post("/api/auth", json={"api_key": key}), "INVALID_CREDENTIALS", message)


def test_a_storefront_key_never_stands_for_the_account_that_made_it(client, store, org, admin):
    account, _key, _record = admin
    storefront = store.identity.storefronts.create("Shop", org.id, time.time())
    key = new_api_key()
    record = store.identity.api_keys.create(
        account.id, "checkout", key, time.time(), storefront_id=storefront.id
    )
    message = "Could not validate credentials"
    store_token = _token(client, key)  # a store's token, not the account's
    answer = client.get("/api/v1/accounts/me", headers=_bearer(store_token))
    _refused(answer, "INVALID_CREDENTIALS", message)
    forged = account_tokens.issue(account.id, record.id, SECRET, time.time(), 3600, org.id)
    answer = client.get("/api/v1/accounts/me", headers=_bearer(forged))
    _refused(answer, "INVALID_CREDENTIALS", message)


def test_a_token_for_an_unknown_account_is_refused(client, member):
    _, _, record = member
    ghost = account_tokens.issue(str(uuid.uuid4()), record.id, SECRET, time.time(), 3600)
    answer = client.get("/api/v1/accounts/me", headers=_bearer(ghost))
    _refused(answer, "INVALID_CREDENTIALS", "Could not validate credentials")


def test_using_a_key_records_the_day(client, store, member):
    _, key, record = member
    _token(client, key)
    assert store.identity.api_keys.get(record.id).last_used_day == time.strftime(
        "%Y-%m-%d", time.gmtime()
    )


def test_only_a_superuser_manages_organizations_and_accounts(client, org, member):
    token = _token(client, member[1])
    for method, path, body in [
        ("post", "/api/v1/organizations", {"name": "x"}),
        ("get", "/api/v1/organizations", None),
        ("patch", f"/api/v1/organizations/{org.id}", {"is_active": False}),
        (
            "post",
            "/api/v1/accounts",
            {"email": "b@x.io", "username": "b", "organization_id": org.id},
        ),
        ("get", "/api/v1/accounts", None),
        ("patch", f"/api/v1/accounts/{member[0].id}", {"is_active": False}),
    ]:
        answer = getattr(client, method)(path, json=body, headers=_bearer(token))
        assert answer.status_code == 403, (method, path)
        assert answer.get_json()["error"]["code"] == "FORBIDDEN"
        assert client.open(path, method=method.upper(), json=body).status_code == 401


def test_a_superuser_creates_lists_and_deactivates(client, admin, org):
    headers = _bearer(_token(client, admin[1]))
    made = client.post("/api/v1/organizations", json={"name": "Beta"}, headers=headers)
    assert made.status_code == 201 and made.get_json()["is_active"] is True
    beta = made.get_json()["id"]
    body = {"email": "Bob@Beta.io", "username": "bob", "organization_id": beta}
    account = client.post("/api/v1/accounts", json=body, headers=headers)
    assert account.status_code == 201 and account.get_json()["email"] == "bob@beta.io"
    again = client.post("/api/v1/accounts", json=body, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "EMAIL_TAKEN"
    listed = client.get(f"/api/v1/accounts?organization_id={beta}", headers=headers).get_json()
    assert [a["username"] for a in listed["results"]] == ["bob"]
    off = client.patch(
        f"/api/v1/accounts/{account.get_json()['id']}", json={"is_active": False}, headers=headers
    )
    assert off.status_code == 200 and off.get_json()["is_active"] is False
    gone = client.patch(
        f"/api/v1/organizations/{uuid.uuid4()}", json={"is_active": False}, headers=headers
    )
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "UNKNOWN_ORGANIZATION"


def test_an_account_in_an_unknown_organization_is_a_404(client, admin):
    headers = _bearer(_token(client, admin[1]))
    body = {"email": "c@x.io", "username": "c", "organization_id": str(uuid.uuid4())}
    answer = client.post("/api/v1/accounts", json=body, headers=headers)
    assert (
        answer.status_code == 404 and answer.get_json()["error"]["code"] == "UNKNOWN_ORGANIZATION"
    )


@pytest.mark.parametrize(
    "query", ["page=0", "per_page=0", "per_page=101", "page=x", "organization_id=not-a-uuid"]
)
def test_bad_paging_is_a_400(client, admin, query):
    answer = client.get(f"/api/v1/accounts?{query}", headers=_bearer(_token(client, admin[1])))
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "INVALID_REQUEST"


def test_listings_are_paginated_with_headers(client, store, admin):
    headers = _bearer(_token(client, admin[1]))
    for i in range(4):
        store.identity.organizations.create(f"org{i}", time.time() + i)
    first = client.get("/api/v1/organizations?per_page=2", headers=headers)
    assert len(first.get_json()["results"]) == 2
    assert first.headers["X-Total"] == "5" and first.headers["X-Total-Pages"] == "3"
    assert first.headers["X-Next-Page"] == "2" and first.headers["X-Prev-Page"] == ""
    last = client.get("/api/v1/organizations?per_page=2&page=3", headers=headers)
    assert len(last.get_json()["results"]) == 1 and last.headers["X-Next-Page"] == ""
    assert last.headers["X-Prev-Page"] == "2" and last.headers["X-Page"] == "3"


def test_a_superuser_cannot_deactivate_itself(client, admin):
    headers = _bearer(_token(client, admin[1]))
    answer = client.patch(
        f"/api/v1/accounts/{admin[0].id}", json={"is_active": False}, headers=headers
    )
    assert answer.status_code == 409


def test_a_package_upn_is_not_an_account_token(client):
    answer = client.get("/api/v1/accounts/me", headers=_bearer("some-upn-value"))
    _refused(answer, "INVALID_CREDENTIALS", "Could not validate credentials")


def test_a_token_checked_once_still_expires_and_another_secret_still_refuses_it():
    account_id, key_id, now = str(uuid.uuid4()), str(uuid.uuid4()), time.time()
    token = account_tokens.issue(account_id, key_id, SECRET, now, 60)
    assert account_tokens.read(token, SECRET, now).account_id == account_id  # now remembered
    with pytest.raises(account_tokens.TokenExpired):
        account_tokens.read(token, SECRET, now + 61)
    with pytest.raises(account_tokens.TokenInvalid):
        account_tokens.read(token, b"another secret", now)
    assert account_tokens.read(token, SECRET, now + 30).key_id == key_id
