"""Deleting a shopper's or a store's events (with the counters corrected), shared by the event,
shopper and store routes."""

from __future__ import annotations

from api.errors import ApiError
from api.services import get_settings, get_store, now
from storage.events import EventsBusy


def delete_shopper_events(store_id: str, user_id: str) -> int:
    """Delete a shopper's events and take them out of the counters; how many. 503
    `EVENTS_BUSY` while another process holds the events longer than a deletion waits."""
    try:
        return get_store().events.delete_shopper(store_id, user_id, now())
    except EventsBusy:
        raise events_busy() from None


def delete_store_events(store_id: str) -> int:
    """Delete a store's events and counters; how many events (503 as above)."""
    try:
        return get_store().events.delete_store(store_id)
    except EventsBusy:
        raise events_busy() from None


def events_busy() -> ApiError:
    retry = str(get_settings().store_retry_after)
    return ApiError(
        503, "EVENTS_BUSY", "the events are busy; try again later", {"Retry-After": retry}
    )
