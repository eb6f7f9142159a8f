"""The admin's store routes (issue 13): every route, status code and the superuser rule."""

from __future__ import annotations

import time
import uuid

import pytest

from storage.identity import new_api_key
from tests.api.store_support import account_headers, assert_error


@pytest.fixture
def root(client, store, acme):
    return account_headers(client, store, acme, superuser=True)


def test_a_store_is_created_listed_renamed_blocked_and_deleted(client, store, acme, root):
    made = client.post(
        "/api/store", json={"name": "Shop", "organization_id": acme.id}, headers=root
    )
    assert made.status_code == 201
    shop = made.get_json()
    assert shop["name"] == "Shop" and shop["is_active"] is True
    assert shop["organization_id"] == acme.id and uuid.UUID(shop["id"])
    listed = client.get("/api/store", headers=root)
    assert listed.status_code == 200 and listed.headers["X-Total"] == "1"
    assert listed.get_json() == [{"id": shop["id"], "name": "Shop", "is_active": True}]
    renamed = client.patch(f"/api/store/{shop['id']}", json={"name": "Boutique"}, headers=root)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Boutique"
    blocked = client.patch(f"/api/store/{shop['id']}", json={"is_active": False}, headers=root)
    assert blocked.get_json()["is_active"] is False
    assert store.identity.storefronts.get(shop["id"]).is_active is False
    deleted = client.delete(f"/api/store/{shop['id']}", headers=root)
    assert deleted.status_code == 200
    assert deleted.get_json() == {"message": "Store successfully deleted"}
    assert client.get("/api/store", headers=root).get_json() == []


def test_stores_are_listed_per_organization_a_page_at_a_time(client, store, acme, root):
    beta = store.identity.organizations.create("Beta", time.time())
    for i in range(3):
        store.identity.storefronts.create(f"a{i}", acme.id, time.time() + i)
    store.identity.storefronts.create("b", beta.id, time.time())
    page = client.get(f"/api/store?organization_id={acme.id}&per_page=2&page=2", headers=root)
    assert [s["name"] for s in page.get_json()] == ["a2"]
    assert page.headers["X-Total"] == "3" and page.headers["X-Prev-Page"] == "1"


def test_unknown_stores_and_organizations_are_404(client, root):
    ghost = str(uuid.uuid4())
    assert_error(
        client.patch(f"/api/store/{ghost}", json={"name": "x"}, headers=root), 404, "UNKNOWN_STORE"
    )
    assert_error(client.delete(f"/api/store/{ghost}", headers=root), 404, "UNKNOWN_STORE")
    body = {"name": "x", "organization_id": ghost}
    assert_error(client.post("/api/store", json=body, headers=root), 404, "UNKNOWN_ORGANIZATION")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/store", {"name": "", "organization_id": "0" * 36}),
        ("post", "/api/store", {"name": "x", "organization_id": "not-a-uuid"}),
        ("post", "/api/store", {"name": "x"}),
        ("patch", f"/api/store/{uuid.uuid4()}", {}),
        ("patch", f"/api/store/{uuid.uuid4()}", {"is_active": "perhaps"}),
        ("patch", "/api/store/not-a-uuid", {"name": "x"}),
        ("delete", "/api/store/not-a-uuid", None),
        ("get", "/api/store?per_page=1000", None),
    ],
)
def test_bad_requests_are_400(client, root, method, path, body):
    answer = client.open(path, method=method.upper(), json=body, headers=root)
    assert_error(answer, 400, "INVALID_REQUEST")


def test_only_a_superuser_manages_stores(client, store, acme):
    member = account_headers(client, store, acme, superuser=False)
    shop = store.identity.storefronts.create("Shop", acme.id, time.time())
    for method, path, body in [
        ("get", "/api/store", None),
        ("post", "/api/store", {"name": "x", "organization_id": acme.id}),
        ("patch", f"/api/store/{shop.id}", {"name": "x"}),
        ("delete", f"/api/store/{shop.id}", None),
    ]:
        assert_error(
            client.open(path, method=method.upper(), json=body, headers=member), 403, "FORBIDDEN"
        )
        assert_error(client.open(path, method=method.upper(), json=body), 401, "NOT_AUTHENTICATED")
    assert store.identity.storefronts.get(shop.id).name == "Shop"


# -- a store's own key and token ---------------------------------------------------------------


def _store_key(store, acme, shop) -> tuple[str, str]:
    email = f"maker-{uuid.uuid4().hex[:8]}@acme.io"
    maker = store.identity.accounts.create(email, "m", acme.id, True, time.time())
    key = new_api_key()
    record = store.identity.api_keys.create(
        maker.id, "checkout", key, time.time(), storefront_id=shop.id
    )
    return key, record.id


def _store_token(client, key: str):
    return client.post("/api/auth", json={"api_key": key})


def test_a_stores_key_gives_a_token_naming_the_store(client, store, acme):
    shop = store.identity.storefronts.create("Shop", acme.id, time.time())
    key, _ = _store_key(store, acme, shop)
    answer = _store_token(client, key)
    assert answer.status_code == 200 and answer.get_json()["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
    me = client.get("/api/store/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["id"] == shop.id and me.get_json()["organization_id"] == acme.id
    assert_error(client.get("/api/store", headers=headers), 401, "INVALID_CREDENTIALS")  # no admin


def test_a_blocked_stores_key_and_tokens_are_403(client, store, acme, root):
    shop = store.identity.storefronts.create("Shop", acme.id, time.time())
    key, _ = _store_key(store, acme, shop)
    headers = {"Authorization": f"Bearer {_store_token(client, key).get_json()['access_token']}"}
    client.patch(f"/api/store/{shop.id}", json={"is_active": False}, headers=root)
    assert_error(client.get("/api/store/me", headers=headers), 403, "STORE_BLOCKED")
    assert_error(_store_token(client, key), 403, "STORE_BLOCKED")
    client.patch(f"/api/store/{shop.id}", json={"is_active": True}, headers=root)
    assert client.get("/api/store/me", headers=headers).status_code == 200


def test_a_revoked_key_or_a_deleted_store_ends_its_tokens(client, store, acme, root):
    shop = store.identity.storefronts.create("Shop", acme.id, time.time())
    key, key_id = _store_key(store, acme, shop)
    headers = {"Authorization": f"Bearer {_store_token(client, key).get_json()['access_token']}"}
    store.identity.api_keys.revoke(key_id, time.time())
    assert_error(client.get("/api/store/me", headers=headers), 401, "INVALID_CREDENTIALS")
    assert_error(_store_token(client, key), 401, "INVALID_CREDENTIALS")
    other = store.identity.storefronts.create("Other", acme.id, time.time())
    key, _ = _store_key(store, acme, other)
    headers = {"Authorization": f"Bearer {_store_token(client, key).get_json()['access_token']}"}
    client.delete(f"/api/store/{other.id}", headers=root)
    assert_error(client.get("/api/store/me", headers=headers), 401, "INVALID_CREDENTIALS")


def test_an_accounts_token_is_not_a_stores(client, root):
    assert_error(client.get("/api/store/me", headers=root), 401, "INVALID_CREDENTIALS")
    assert_error(client.get("/api/store/me"), 401, "NOT_AUTHENTICATED")
