"""A store's events and their daily statistics (issue 13; design in docs/shoppers.md).

`POST /api/event` and `POST /api/events` store events (durable before the answer) for a worker
to count; `DELETE /api/event/<user_id>` deletes a shopper's events and takes them out of the
counters; `GET /api/event/amount/<type>`, `/avg-time/<type>` and
`/store-events-amount/<store_id>` read the per-day counters only (O(days)).

A store's token reaches its own events only. A superuser's account token reads any store's
statistics (naming it with `store_id` on the first two).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

import orjson
from flask import Response, request
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field, RootModel

from api.admin import UUID_PATTERN, require_superuser
from api.errors import INVALID_REQUEST, ApiError
from api.event_deletion import delete_shopper_events
from api.identity import (
    ACCOUNT_SECURITY,
    BEARER_ROUTE_RESPONSES,
    bearer_is_a_store,
    require_storefront,
)
from api.jsonio import json_response
from api.schemas import ErrorResponse
from api.services import get_settings, get_shopper_vault, get_store, now
from api.shoppers import unknown_user
from api.storefronts import STORES_TAG, MessageOut, unknown_store
from storage.events import DayPage, Event, new_event_id, new_event_ids

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_DAYS_PER_READ = 3660
ERRORS_SHOWN = 20  # of a refused batch: enough to fix it, never the whole batch echoed back
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq")

bp = APIBlueprint(
    "events",
    __name__,
    url_prefix="/api",
    abp_tags=[STORES_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class EventBody(BaseModel):
    type: str = Field(pattern=EVENT_TYPE_PATTERN, description="1-64 of A-Z a-z 0-9 _ . : -")
    user_id: str = Field(pattern=UUID_PATTERN, description="A shopper of the calling store")
    data: dict[str, Any] = Field(default_factory=dict, description="Any JSON object")


_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
_UUID = re.compile(UUID_PATTERN)


class BatchItem(NamedTuple):
    """One event of a batch, checked against `EventBody`'s rules (the same patterns) in plain
    Python: pydantic's checks cost 4 times as much, a quarter of a batch's time on the server."""

    type: str
    user_id: str
    data: dict[str, Any]


class EventOut(BaseModel):
    id: str
    type: str
    store_id: str
    user_id: str
    data: dict[str, Any]
    created_at: float = Field(description="UTC epoch seconds")


class BatchOut(BaseModel):
    accepted: int = Field(description="How many events were stored (all of the batch)")


# The batch route reads its body itself (NDJSON is not JSON): its document is given here.
BATCH_BODY_PATH = "/api/events"
BATCH_REQUEST_BODY = {
    "required": True,
    "description": "A JSON array of events, or NDJSON (one event per line)",
    "content": {
        media: {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/EventBody"}}}
        for media in ("application/json", *NDJSON_TYPES)
    },
}


class ShopperPath(BaseModel):
    user_id: str = Field(pattern=UUID_PATTERN)


class EventTypePath(BaseModel):
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN)


class StorePath(BaseModel):
    store_id: str = Field(pattern=UUID_PATTERN)


class DaysQuery(BaseModel):
    date_from: date | None = Field(None, description="First UTC day, YYYY-MM-DD (default: any)")
    date_to: date | None = Field(None, description="Last UTC day, YYYY-MM-DD (default: any)")
    offset: int = Field(0, ge=0, le=1_000_000, description="Days of the range to skip")
    limit: int = Field(366, ge=1, le=MAX_DAYS_PER_READ, description="Days to answer, 1-3660")


class StoreDaysQuery(DaysQuery):
    store_id: str | None = Field(
        None, pattern=UUID_PATTERN, description="The store to read: a superuser's token only"
    )


class DayAmount(BaseModel):
    date: str = Field(description="A UTC day with events, YYYY-MM-DD")
    event_amount: int


class DayAverage(BaseModel):
    date: str = Field(description="A UTC day with events, YYYY-MM-DD")
    event_avg_time: float = Field(description="Events per shopper with such an event that day")


def event_json(event: Event, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "store_id": event.store_id,
        "user_id": event.user_id,
        "data": data,
        "created_at": round(event.created_at, 3),
    }


@bp.post(
    "/event",
    summary="Record one event of a shopper",
    responses={201: EventOut, 404: ErrorResponse},
)
def create_event(body: EventBody) -> Response:
    """Answered before Flask when all goes well (`api.event_path`), with the same steps."""
    storefront = require_storefront()
    event = record_event(storefront.id, body.type, body.user_id, body.data)
    return json_response(event_json(event, body.data), 201)


def record_event(store_id: str, event_type: str, user_id: str, data: dict[str, Any]) -> Event:
    """One event of a store's shopper, stored (durable once this returns); its type and
    user id already checked as `EventBody` checks them. 400 for data over
    `EVENT_DATA_MAX_BYTES`, 404 `UNKNOWN_USER` for a shopper the store does not have."""
    serialised = _serialised_data(data, get_settings().event_data_max_bytes)
    if serialised is None:
        raise _data_too_large()
    if not get_shopper_vault().known_ids(store_id, [user_id]):
        raise unknown_user()
    event = Event(new_event_id(), store_id, user_id, event_type, serialised, now())
    get_store().events.append([event])
    return event


@bp.post(
    "/events",
    summary="Record a batch of events, all or none",
    responses={202: BatchOut, 413: ErrorResponse},
)
def create_events() -> Response:
    """Up to `EVENTS_BATCH_MAX` events (default 10,000) in a body of at most
    `EVENTS_BODY_MAX_BYTES`; every event is checked and the batch is stored whole or refused
    whole (400 `INVALID_EVENTS`, naming the first faulty events by index)."""
    storefront = require_storefront()
    bodies = _batch(request.get_data(cache=False))
    events, refused = _batch_events(bodies, storefront.id)
    known = get_shopper_vault().known_ids(storefront.id, [body.user_id for body in bodies])
    refused += [
        _fault(index, "user_id", "is not a user of this store")
        for index, body in enumerate(bodies)
        if body.user_id not in known
    ]
    if refused:
        raise _invalid_events(sorted(refused, key=lambda fault: fault["index"]))
    get_store().events.append(events)
    return json_response({"accepted": len(events)}, 202)


@bp.delete(
    "/event/<user_id>",
    summary="Delete every event of a shopper",
    responses={200: MessageOut, 404: ErrorResponse},
)
def delete_events(path: ShopperPath) -> Response:
    """404 `UNKNOWN_USER` when the store has neither this shopper nor events of it."""
    storefront = require_storefront()
    deleted = delete_shopper_events(storefront.id, path.user_id)
    if not deleted and not get_shopper_vault().known_ids(storefront.id, [path.user_id]):
        raise unknown_user()
    return json_response({"message": f"{deleted} events were deleted"})


@bp.get(
    "/event/amount/<event_type>",
    summary="Events of a type per day",
    responses={200: RootModel[list[DayAmount]], 404: ErrorResponse},
)
def event_amount(path: EventTypePath, query: StoreDaysQuery) -> Response:
    return _amounts(_type_days(path.event_type, query))


@bp.get(
    "/event/avg-time/<event_type>",
    summary="Events of a type per active shopper per day",
    responses={200: RootModel[list[DayAverage]], 404: ErrorResponse},
)
def event_average(path: EventTypePath, query: StoreDaysQuery) -> Response:
    page = _type_days(path.event_type, query)
    averages = [
        {"date": d.day, "event_avg_time": round(d.events / d.shoppers, 3) if d.shoppers else 0.0}
        for d in page.days
    ]
    return _days_answer(page, averages)


@bp.get(
    "/event/store-events-amount/<store_id>",
    summary="A store's events per day",
    responses={200: RootModel[list[DayAmount]], 404: ErrorResponse},
)
def store_events_amount(path: StorePath, query: DaysQuery) -> Response:
    store_id = _readable_store(path.store_id)
    first, last = _day_range(query)
    return _amounts(get_store().events.store_days(store_id, first, last, query.offset, query.limit))


def _type_days(event_type: str, query: StoreDaysQuery) -> DayPage:
    store_id = _readable_store(query.store_id, named_in_query=True)
    first, last = _day_range(query)
    return get_store().events.type_days(
        store_id, event_type, first, last, query.offset, query.limit
    )


def _readable_store(requested: str | None, named_in_query: bool = False) -> str:
    """The store whose statistics the caller may read: a store its own (403 `FORBIDDEN` for
    another), a superuser the one it names (404 `UNKNOWN_STORE` for none such)."""
    if bearer_is_a_store():
        own = require_storefront().id
        if requested not in (None, own):
            raise ApiError(403, "FORBIDDEN", "a store reads its own statistics only")
        return own
    require_superuser()
    if requested is None:
        where = "query.store_id" if named_in_query else "path.store_id"
        raise ApiError(400, INVALID_REQUEST, f"{where}: a superuser names the store to read")
    if get_store().identity.storefronts.get(requested) is None:
        raise unknown_store()
    return requested


def _day_range(query: DaysQuery) -> tuple[str, str]:
    first = query.date_from.isoformat() if query.date_from else "0001-01-01"
    last = query.date_to.isoformat() if query.date_to else "9999-12-31"
    if first > last:
        raise ApiError(400, INVALID_REQUEST, "query.date_from: is after date_to")
    return first, last


def _amounts(page: DayPage) -> Response:
    return _days_answer(page, [{"date": d.day, "event_amount": d.events} for d in page.days])


def _days_answer(page: DayPage, days: list[dict[str, Any]]) -> Response:
    return json_response(days, headers={"X-Total": str(page.total_days)})


def _serialised_data(data: dict[str, Any], largest: int) -> bytes | None:
    """The data as stored, or None when it is larger than `largest` (`EVENT_DATA_MAX_BYTES`)."""
    serialised = orjson.dumps(data)
    return serialised if len(serialised) <= largest else None


def _data_too_large() -> ApiError:
    limit = get_settings().event_data_max_bytes
    return ApiError(400, INVALID_REQUEST, f"body.data: is larger than {limit} bytes")


def _batch(raw: bytes) -> list[BatchItem]:
    """The events of a batch body (a JSON array, or NDJSON), each checked; else 400."""
    items = _ndjson(raw) if request.mimetype in NDJSON_TYPES else _json_array(raw)
    limit = get_settings().events_batch_max
    if not items:
        raise ApiError(400, "INVALID_EVENTS", "the batch has no event")
    if len(items) > limit:
        raise ApiError(400, "TOO_MANY_EVENTS", f"a batch holds at most {limit} events")
    checked, faults = [], []
    for index, item in enumerate(items):
        fault = item_fault(item)
        if fault is None:
            checked.append(BatchItem(item["type"], item["user_id"], item.get("data", {})))
        else:
            faults.append(_fault(index, *fault))
    if faults:
        raise _invalid_events(faults)
    return checked


def item_fault(item: Any) -> tuple[str, str] | None:
    """What is wrong with one event of a batch (field, message), or None."""
    if not isinstance(item, dict):
        return "event", "is not a JSON object"
    event_type, user_id = item.get("type"), item.get("user_id")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        return "type", f"should be a string matching {EVENT_TYPE_PATTERN}"
    if not isinstance(user_id, str) or not _UUID.fullmatch(user_id):
        return "user_id", "should be a UUID"
    if not isinstance(item.get("data", {}), dict):
        return "data", "should be a JSON object"
    return None


def _batch_events(
    bodies: list[BatchItem], store_id: str
) -> tuple[list[Event], list[dict[str, Any]]]:
    """The events of a batch, all with one time, and the faults of those whose data is too
    large."""
    largest, at = get_settings().event_data_max_bytes, now()
    events, refused = [], []
    for index, (body, event_id) in enumerate(zip(bodies, new_event_ids(len(bodies)), strict=True)):
        data = _serialised_data(body.data, largest)
        if data is None:
            refused.append(_fault(index, "data", "is larger than EVENT_DATA_MAX_BYTES"))
        events.append(Event(event_id, store_id, body.user_id, body.type, data or b"", at))
    return events, refused


def _json_array(raw: bytes) -> list[Any]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, INVALID_REQUEST, "the body is not JSON (or give NDJSON)") from None
    if not isinstance(items, list):
        raise ApiError(400, INVALID_REQUEST, "the body is not a JSON array of events")
    return items


def _ndjson(raw: bytes) -> list[Any]:
    items = []
    for number, line in enumerate(raw.splitlines()):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            raise ApiError(400, INVALID_REQUEST, f"line {number + 1} is not JSON") from None
    return items


def _fault(index: int, field: str, message: str) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def _invalid_events(faults: list[dict[str, Any]]) -> ApiError:
    return ApiError(
        400,
        "INVALID_EVENTS",
        f"{len(faults)} faults in the batch; no event was stored",
        errors=faults[:ERRORS_SHOWN],
    )
