"""Stores' events are durable once accepted: posted while no worker runs and while the broker is
down, then counted by a worker that is killed while it folds and by its replacement, every
event exactly once (issue 13)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections import Counter

import requests

from storage import open_store
from storage.events import utc_day
from storage.identity import new_api_key
from storage.sqlite_events import events_path
from tests.faults.conftest import broker_and_api, wait_for

SHOPPERS = 20
BATCH = 10_000
TYPES = ("view", "cart", "buy")


def _store_token(stack) -> tuple[str, dict[str, str]]:
    store = open_store(stack.settings)
    try:
        identity = store.identity
        organization = identity.organizations.create("Acme", time.time())
        shop = identity.storefronts.create("Shop", organization.id, time.time())
        maker = identity.accounts.create("m@acme.io", "m", organization.id, False, time.time())
        key = new_api_key()
        identity.api_keys.create(maker.id, "k", key, time.time(), storefront_id=shop.id)
    finally:
        store.close()
    answer = requests.post(f"{stack.api_url}/api/auth", json={"api_key": key}, timeout=10)
    return shop.id, {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _shoppers(stack, headers) -> list[str]:
    made = []
    for n in range(SHOPPERS):
        body = {"email": f"s{n}-{uuid.uuid4().hex[:6]}@example.org"}
        answer = requests.post(f"{stack.api_url}/api/user", json=body, headers=headers, timeout=10)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    return made


def _post_batches(stack, headers, users: list[str], batches: int) -> Counter[str]:
    """Post `batches` batches; the events of each type they hold."""
    posted: Counter[str] = Counter()
    for number in range(batches):
        batch = [
            {"type": TYPES[n % 3], "user_id": users[n % len(users)], "data": {"n": n, "b": number}}
            for n in range(BATCH)
        ]
        answer = requests.post(
            f"{stack.api_url}/api/events", json=batch, headers=headers, timeout=60
        )
        assert answer.status_code == 202 and answer.json() == {"accepted": BATCH}, answer.text
        posted.update(event["type"] for event in batch)
    return posted


def _pending(stack) -> int:
    store = open_store(stack.settings)
    try:
        return store.events.pending()
    finally:
        store.close()


def _counted_some(database: sqlite3.Connection) -> bool:
    """Whether a fold step has committed (read directly: polled every millisecond or so)."""
    return database.execute("SELECT COUNT(*) FROM event_fold_cursor").fetchone()[0] > 0


def _amounts(stack, headers) -> Counter[str]:
    today = utc_day(time.time())
    found: Counter[str] = Counter()
    for kind in TYPES:
        answer = requests.get(
            f"{stack.api_url}/api/event/amount/{kind}", headers=headers, timeout=10
        )
        found[kind] = sum(day["event_amount"] for day in answer.json() if day["date"] == today)
    return found


def test_accepted_events_survive_a_broker_outage_and_a_killed_worker():
    env = {"EVENTS_FOLD_SECONDS": "1", "EVENTS_FOLD_BATCH": "500"}  # many steps to die between
    with broker_and_api("dmf-ev-", env) as stack:
        _store_id, headers = _store_token(stack)
        users = _shoppers(stack, headers)
        posted = _post_batches(stack, headers, users, 10)  # no worker yet
        stack.stop("broker")
        posted += _post_batches(stack, headers, users, 10)  # the broker is down: still accepted
        single = {"type": "buy", "user_id": users[0]}
        answer = requests.post(
            f"{stack.api_url}/api/event", json=single, headers=headers, timeout=10
        )
        assert answer.status_code == 201
        posted["buy"] += 1
        total = sum(posted.values())
        assert _pending(stack) == total

        stack.start_broker()
        stack.start_beat()
        stack.start_worker("w1")
        events_file = events_path(stack.settings.sqlite_path)
        with contextlib.closing(sqlite3.connect(events_file)) as database:
            wait_for(lambda: _counted_some(database), timeout=120, every=0.001)
        stack.kill("w1")  # while it folds (one fold step counts at most 500 events)
        assert _pending(stack) > 0, "the first worker counted everything before it was killed"
        stack.start_worker("w2")
        wait_for(lambda: _pending(stack) == 0, timeout=120)
        assert _amounts(stack, headers) == posted
