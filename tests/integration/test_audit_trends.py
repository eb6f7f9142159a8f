"""The audit log end to end: calls made by this test through the API under gunicorn are
written by the API, folded by beat and a real worker, and read back as usage trends."""

from __future__ import annotations

import time

import requests

from storage import open_store
from storage.identity import new_api_key


def _account(stack, email: str, superuser: bool) -> tuple[str, str]:
    store = open_store(stack.settings)
    try:
        identity = store.identity
        organization = identity.organizations.create(f"org of {email}", time.time())
        account = identity.accounts.create(email, "u", organization.id, superuser, time.time())
        key = new_api_key()
        identity.api_keys.create(account.id, "integration", key, time.time())
        return account.id, key
    finally:
        store.close()


def _bearer(stack, key: str) -> dict[str, str]:
    answer = requests.post(f"{stack.api_url}/api/auth", json={"api_key": key}, timeout=10)
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_calls_through_the_api_become_trends(stack):
    user_id, user_key = _account(stack, "ada@trends.io", superuser=False)
    _root_id, root_key = _account(stack, "root@trends.io", superuser=True)
    user = _bearer(stack, user_key)  # one call of the user's: POST /api/auth
    for _ in range(3):
        assert requests.get(f"{stack.api_url}/api/v1/accounts/me", headers=user, timeout=10).ok
    root = _bearer(stack, root_key)  # the superuser reads the user's trends: its own calls
    url = f"{stack.api_url}/api/v1/analytics/usage/trends?days=1&user_id={user_id}"
    deadline = time.monotonic() + 60
    while True:
        body = requests.get(url, headers=root, timeout=10).json()
        if body["total_calls"] >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["total_calls"] == 4 and body["period_days"] == 1
    assert body["daily_usage"][0]["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    mine = requests.get(
        f"{stack.api_url}/api/v1/analytics/usage/trends?days=1", headers=user, timeout=10
    ).json()
    assert mine["total_calls"] == 4  # the user's own view of the same counter
