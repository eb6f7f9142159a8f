"""A store's events and their daily statistics (issue 13): every route, status code and scope
rule. Counting is a worker's fold (`store.events.fold`, run here directly; through a real
worker in tests/integration/test_events_pipeline.py)."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from storage.events import Event, new_event_id, utc_day
from tests.api.store_support import account_headers, assert_error, store_headers

DAY = 86_400.0
T0 = 1_764_633_600.0  # 2025-12-02T00:00:00Z
BATCH_MAX = 50


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"events_batch_max": BATCH_MAX, "events_body_max_bytes": 128 * 1024,
                "event_data_max_bytes": 256}
    )  # fmt: skip


@pytest.fixture
def root(client, store, acme):
    return account_headers(client, store, acme, superuser=True)


def shopper(client, headers, email: str | None = None) -> str:
    body = {"email": email or f"{uuid.uuid4().hex[:8]}@example.org"}
    answer = client.post("/api/user", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def fold(store) -> None:
    while store.events.fold(1000, time.time()):
        pass


def test_an_event_is_recorded_with_the_store_from_the_token(client, store, shop):
    store_id, headers = shop
    user = shopper(client, headers)
    body = {"type": "page_view", "user_id": user, "data": {"path": "/cart", "items": [1, 2]}}
    answer = client.post("/api/event", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert uuid.UUID(made["id"]) and made.pop("created_at") == pytest.approx(time.time(), abs=60)
    assert made == {**body, "id": made["id"], "store_id": store_id}
    (stored,) = store.events.events(store_id)  # durable before the answer
    assert stored.id == made["id"] and orjson.loads(stored.data) == body["data"]
    no_data = client.post("/api/event", json={"type": "login", "user_id": user}, headers=headers)
    assert no_data.status_code == 201 and no_data.get_json()["data"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "x"},
        {"type": "view", "user_id": "not-a-uuid"},
        {"type": "has space", "user_id": str(uuid.uuid4())},
        {"type": "", "user_id": str(uuid.uuid4())},
        {"type": "view", "user_id": str(uuid.uuid4()), "data": [1, 2]},
        {"type": "view", "user_id": str(uuid.uuid4()), "data": {"big": "x" * 300}},
    ],
)
def test_a_bad_event_is_400(client, store, shop, body):
    store_id, headers = shop
    assert_error(client.post("/api/event", json=body, headers=headers), 400, "INVALID_REQUEST")
    assert list(store.events.events(store_id)) == []


def test_an_event_of_an_unknown_or_another_stores_user_is_404(client, store, acme, shop):
    store_id, headers = shop
    _other_id, other = store_headers(client, store, acme, "Other")
    elsewhere = shopper(client, other)
    for user in (str(uuid.uuid4()), elsewhere):
        answer = client.post("/api/event", json={"type": "v", "user_id": user}, headers=headers)
        assert_error(answer, 404, "UNKNOWN_USER")
    assert list(store.events.events(store_id)) == []


def test_event_routes_take_a_store_token_only(client, store, acme, shop, root):
    store_id, headers = shop
    user = shopper(client, headers)
    body = {"type": "v", "user_id": user}
    for answer in (
        client.post("/api/event", json=body),
        client.post("/api/events", json=[body]),
        client.delete(f"/api/event/{user}"),
        client.get("/api/event/amount/v"),
        client.get(f"/api/event/store-events-amount/{store_id}"),
    ):
        assert_error(answer, 401, "NOT_AUTHENTICATED")
    member = account_headers(client, store, acme, superuser=False)
    for headers_of_an_account in (member, root):
        answer = client.post("/api/event", json=body, headers=headers_of_an_account)
        assert_error(answer, 401, "INVALID_CREDENTIALS")
        answer = client.delete(f"/api/event/{user}", headers=headers_of_an_account)
        assert_error(answer, 401, "INVALID_CREDENTIALS")
    assert_error(client.get("/api/event/amount/v", headers=member), 403, "FORBIDDEN")


def test_a_blocked_stores_events_are_refused_with_403(client, store, shop):
    store_id, headers = shop
    user = shopper(client, headers)
    store.identity.storefronts.update(store_id, is_active=False)
    answer = client.post("/api/event", json={"type": "v", "user_id": user}, headers=headers)
    assert_error(answer, 403, "STORE_BLOCKED")
    assert_error(client.get("/api/event/amount/v", headers=headers), 403, "STORE_BLOCKED")


# -- batches ----------------------------------------------------------------------------------


def test_a_json_array_batch_is_accepted_whole(client, store, shop):
    store_id, headers = shop
    users = [shopper(client, headers) for _ in range(3)]
    batch = [{"type": "view", "user_id": users[n % 3], "data": {"n": n}} for n in range(BATCH_MAX)]
    answer = client.post("/api/events", json=batch, headers=headers)
    assert answer.status_code == 202 and answer.get_json() == {"accepted": BATCH_MAX}
    stored = list(store.events.events(store_id))
    assert sorted(orjson.loads(e.data)["n"] for e in stored) == list(range(BATCH_MAX))
    assert len({e.id for e in stored}) == BATCH_MAX


def test_an_ndjson_batch_is_accepted_whole(client, store, shop):
    store_id, headers = shop
    user = shopper(client, headers)
    lines = [orjson.dumps({"type": "buy", "user_id": user, "data": {"n": n}}) for n in range(4)]
    body = b"\n".join(lines[:2]) + b"\n\n" + b"\r\n".join(lines[2:]) + b"\n"
    answer = client.post(
        "/api/events",
        data=body,
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 202 and answer.get_json() == {"accepted": 4}
    assert [e.type for e in store.events.events(store_id)] == ["buy"] * 4


def test_a_batch_with_one_bad_event_stores_none(client, store, shop):
    store_id, headers = shop
    user = shopper(client, headers)
    batch = [{"type": "view", "user_id": user}] * 5
    batch[1] = {"type": "no spaces", "user_id": user}
    batch[3] = {"type": "view", "user_id": str(uuid.uuid4())}
    batch[4] = {"type": "view", "user_id": user, "data": {"big": "x" * 300}}
    answer = client.post("/api/events", json=batch, headers=headers)
    assert_error(answer, 400, "INVALID_EVENTS")
    assert [fault["index"] for fault in answer.get_json()["error"]["errors"]] == [1]
    batch[1] = {"type": "view", "user_id": user}  # the shape is right: now the users and sizes
    answer = client.post("/api/events", json=batch, headers=headers)
    faults = answer.get_json()["error"]["errors"]
    assert [(f["index"], f["field"]) for f in faults] == [(3, "user_id"), (4, "data")]
    assert list(store.events.events(store_id)) == []


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"[]", "application/json", "INVALID_EVENTS"),
        (b"{}", "application/json", "INVALID_REQUEST"),
        (b"[{", "application/json", "INVALID_REQUEST"),
        (b'{"type": "v"}\n{', "application/x-ndjson", "INVALID_REQUEST"),
        (b"[" + b",".join([b"{}"] * (BATCH_MAX + 1)) + b"]", "application/json", "TOO_MANY_EVENTS"),
    ],
)
def test_a_malformed_batch_is_400(client, store, shop, body, content_type, code):
    store_id, headers = shop
    answer = client.post(
        "/api/events", data=body, headers={**headers, "Content-Type": content_type}
    )
    assert_error(answer, 400, code)
    assert list(store.events.events(store_id)) == []


def test_a_batch_body_has_its_own_limit_above_the_apps(client, shop):
    _store_id, headers = shop
    json_headers = {**headers, "Content-Type": "application/json"}
    over = b"[" + b" " * (128 * 1024) + b"]"
    answer = client.post("/api/events", data=over, headers=json_headers)
    assert_error(answer, 413, "REQUEST_ENTITY_TOO_LARGE")
    # past the app-wide 64 KiB, within EVENTS_BODY_MAX_BYTES: on to the batch's own checks
    under = b"[" + b" " * (100 * 1024) + b"]"
    answer = client.post("/api/events", data=under, headers=json_headers)
    assert_error(answer, 400, "INVALID_EVENTS")


# -- statistics -------------------------------------------------------------------------------


def _stored(store, store_id: str, user: str, kind: str, day: int, count: int = 1) -> None:
    store.events.append(
        [
            Event(new_event_id(), store_id, user, kind, b"{}", T0 + day * DAY + n)
            for n in range(count)
        ]
    )


@pytest.fixture
def history(client, store, shop):
    """Events over three days: day 0 two shoppers (3 + 1 views), day 2 one (2 views, 1 buy)."""
    store_id, headers = shop
    ada, bob = shopper(client, headers), shopper(client, headers)
    _stored(store, store_id, ada, "view", 0, 3)
    _stored(store, store_id, bob, "view", 0, 1)
    _stored(store, store_id, ada, "view", 2, 2)
    _stored(store, store_id, ada, "buy", 2, 1)
    fold(store)
    return store_id, headers, ada, bob


def days(n: int) -> str:
    return utc_day(T0 + n * DAY)


def test_amounts_and_averages_per_day_come_from_the_counters(client, store, history):
    store_id, headers, ada, _bob = history
    amount = client.get("/api/event/amount/view", headers=headers)
    assert amount.status_code == 200 and amount.headers["X-Total"] == "2"
    assert amount.get_json() == [
        {"date": days(0), "event_amount": 4},
        {"date": days(2), "event_amount": 2},
    ]
    average = client.get("/api/event/avg-time/view", headers=headers).get_json()
    assert average == [
        {"date": days(0), "event_avg_time": 2.0},
        {"date": days(2), "event_avg_time": 2.0},
    ]
    totals = client.get(f"/api/event/store-events-amount/{store_id}", headers=headers).get_json()
    assert totals == [{"date": days(0), "event_amount": 4}, {"date": days(2), "event_amount": 3}]
    assert client.get("/api/event/amount/nothing", headers=headers).get_json() == []
    _stored(store, store_id, ada, "view", 0, 10)  # stored, not yet counted: not in the figures
    assert client.get("/api/event/amount/view", headers=headers).get_json()[0]["event_amount"] == 4


def test_a_range_of_days_with_offset_and_limit(client, history):
    store_id, headers, _ada, _bob = history
    url = f"/api/event/store-events-amount/{store_id}"
    only_day_2 = client.get(url, query_string={"date_from": days(1)}, headers=headers).get_json()
    assert only_day_2 == [{"date": days(2), "event_amount": 3}]
    only_day_0 = client.get(url, query_string={"date_to": days(1)}, headers=headers)
    assert [d["date"] for d in only_day_0.get_json()] == [days(0)]
    second = client.get(url, query_string={"offset": 1, "limit": 1}, headers=headers)
    assert second.get_json() == only_day_2 and second.headers["X-Total"] == "2"
    for bad in ({"date_from": "2025-13-01"}, {"limit": 0}, {"offset": -1},
                {"date_from": days(2), "date_to": days(0)}):  # fmt: skip
        assert_error(client.get(url, query_string=bad, headers=headers), 400, "INVALID_REQUEST")
    assert_error(
        client.get("/api/event/amount/has%20space", headers=headers), 400, "INVALID_REQUEST"
    )


def test_a_store_reads_its_own_statistics_and_the_admin_any(client, store, acme, root, history):
    store_id, _headers, _ada, _bob = history
    other_id, other = store_headers(client, store, acme, "Other")
    answer = client.get(f"/api/event/store-events-amount/{store_id}", headers=other)
    assert_error(answer, 403, "FORBIDDEN")
    answer = client.get(
        "/api/event/amount/view", query_string={"store_id": store_id}, headers=other
    )
    assert_error(answer, 403, "FORBIDDEN")
    own = client.get("/api/event/amount/view", query_string={"store_id": other_id}, headers=other)
    assert own.status_code == 200 and own.get_json() == []
    by_admin = client.get(f"/api/event/store-events-amount/{store_id}", headers=root)
    assert [d["event_amount"] for d in by_admin.get_json()] == [4, 3]
    for route in ("amount", "avg-time"):
        answer = client.get(
            f"/api/event/{route}/view", query_string={"store_id": store_id}, headers=root
        )
        assert answer.status_code == 200 and len(answer.get_json()) == 2
        assert_error(client.get(f"/api/event/{route}/view", headers=root), 400, "INVALID_REQUEST")
    unknown = str(uuid.uuid4())
    answer = client.get(f"/api/event/store-events-amount/{unknown}", headers=root)
    assert_error(answer, 404, "UNKNOWN_STORE")


# -- deletions --------------------------------------------------------------------------------


def test_deleting_a_shoppers_events_corrects_the_statistics(client, store, history):
    store_id, headers, ada, bob = history
    answer = client.delete(f"/api/event/{ada}", headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {"message": "6 events were deleted"}
    assert [e.user_id for e in store.events.events(store_id)] == [bob]
    amount = client.get("/api/event/amount/view", headers=headers).get_json()
    assert amount == [{"date": days(0), "event_amount": 1}]
    assert client.get("/api/event/amount/buy", headers=headers).get_json() == []
    again = client.delete(f"/api/event/{ada}", headers=headers)
    assert again.get_json() == {"message": "0 events were deleted"}  # a shopper still


def test_deleting_the_events_of_no_shopper_is_404(client, store, acme, history):
    _store_id, _headers, ada, _bob = history
    _other_id, other = store_headers(client, store, acme, "Other")
    assert_error(client.delete(f"/api/event/{ada}", headers=other), 404, "UNKNOWN_USER")
    assert_error(client.delete(f"/api/event/{uuid.uuid4()}", headers=other), 404, "UNKNOWN_USER")
    assert_error(client.delete("/api/event/not-a-uuid", headers=other), 400, "INVALID_REQUEST")


def test_deleting_a_shopper_deletes_its_events(client, store, history):
    store_id, headers, ada, bob = history
    assert client.delete(f"/api/user/{ada}", headers=headers).status_code == 200
    assert {e.user_id for e in store.events.events(store_id)} == {bob}
    totals = client.get(f"/api/event/store-events-amount/{store_id}", headers=headers).get_json()
    assert totals == [{"date": days(0), "event_amount": 1}]


def test_deleting_a_store_deletes_its_events(client, store, root, history):
    store_id, _headers, _ada, _bob = history
    assert client.delete(f"/api/store/{store_id}", headers=root).status_code == 200
    assert list(store.events.events(store_id)) == []
    assert store.events.store_days(store_id, "0001-01-01", "9999-12-31", 0, 10).days == []


def test_the_batch_route_documents_both_body_forms(client):
    document = client.get("/openapi.json").get_json()
    body = document["paths"]["/api/events"]["post"]["requestBody"]
    assert {"application/json", "application/x-ndjson"} <= set(body["content"])
    items = body["content"]["application/x-ndjson"]["schema"]["items"]["$ref"]
    assert items.rsplit("/", 1)[1] in document["components"]["schemas"]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "view", "user_id": str(uuid.uuid4())},
        {"type": "v.1:a_b-c", "user_id": str(uuid.uuid4()).upper(), "data": {"a": [1]}},
        {"type": "x" * 64, "user_id": str(uuid.uuid4()), "extra": 1},
        {"type": "x" * 65, "user_id": str(uuid.uuid4())},
        {"type": "-view", "user_id": str(uuid.uuid4())},
        {"type": "view", "user_id": str(uuid.uuid4()) + "0"},
        {"type": "view", "user_id": str(uuid.uuid4()), "data": None},
        {"type": "view", "user_id": str(uuid.uuid4()), "data": "text"},
        {"type": 5, "user_id": str(uuid.uuid4())},
        {"user_id": str(uuid.uuid4())},
        {"type": "view"},
    ],
)
def test_a_batch_checks_each_event_as_the_single_route_does(event):
    from pydantic import ValidationError

    from api.events import EventBody, item_fault

    try:
        EventBody.model_validate(event)
        single_accepts = True
    except ValidationError:
        single_accepts = False
    assert (item_fault(event) is None) == single_accepts


def test_a_copy_of_the_events_store_holds_no_personal_field(client, store, settings, shop):
    _store_id, headers = shop
    ada = {"email": "ada.lovelace@example.org", "first_name": "Augusta", "last_name": "Byron",
           "username": "countess", "phone": "+44 20 7946 0999"}  # fmt: skip
    user = client.post("/api/user", json=ada, headers=headers).get_json()["id"]
    events = [{"type": "view", "user_id": user, "data": {"page": "/cart"}}] * 3
    assert client.post("/api/events", json=events, headers=headers).status_code == 202
    fold(store)
    dumped = b"".join(
        path.read_bytes()
        for path in settings.data_dir.iterdir()
        if path.name.startswith(("dumpus", "events"))
    )
    assert user.encode() in dumped  # the events are there, under the shopper's UUID
    assert b"/cart" in dumped
    for value in ada.values():
        assert value.encode() not in dumped and value.lower().encode() not in dumped


def test_deleted_events_leave_no_copy_in_the_data_directory(client, store, settings, shop):
    _store_id, headers = shop
    user = shopper(client, headers)
    marker = f"marker-{uuid.uuid4().hex}"
    events = [{"type": "view", "user_id": user, "data": {"note": marker}}] * 20
    assert client.post("/api/events", json=events, headers=headers).status_code == 202
    fold(store)

    def on_disk() -> bytes:
        names = ("events.sqlite3", "events.sqlite3-wal")
        return b"".join(
            (settings.data_dir / name).read_bytes()
            for name in names
            if (settings.data_dir / name).exists()
        )

    assert marker.encode() in on_disk()
    assert client.delete(f"/api/event/{user}", headers=headers).status_code == 200
    assert marker.encode() not in on_disk()
