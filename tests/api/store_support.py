"""Accounts and stores for the store tests: bearer headers of an account, a superuser or a
store, made through `POST /api/auth` as a client would."""

from __future__ import annotations

import time
import uuid

from storage.identity import new_api_key


def account_headers(client, store, organization, superuser: bool) -> dict[str, str]:
    email = f"{uuid.uuid4().hex[:8]}@acme.io"
    account = store.identity.accounts.create(email, "x", organization.id, superuser, time.time())
    key = new_api_key()
    store.identity.api_keys.create(account.id, "test", key, time.time())
    return _bearer(client, key)


def store_headers(client, store, organization, name: str = "Shop") -> tuple[str, dict[str, str]]:
    """A new store of the organization, and its token's headers."""
    shop = store.identity.storefronts.create(name, organization.id, time.time())
    maker = store.identity.accounts.create(
        f"{uuid.uuid4().hex[:8]}@acme.io", "m", organization.id, False, time.time()
    )
    key = new_api_key()
    store.identity.api_keys.create(maker.id, "checkout", key, time.time(), storefront_id=shop.id)
    return shop.id, _bearer(client, key)


def _bearer(client, key: str) -> dict[str, str]:
    token = client.post("/api/auth", json={"api_key": key}).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def assert_error(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["error"]["code"] == code
