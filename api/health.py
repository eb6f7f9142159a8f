"""Health: whether the broker and the store answer."""

from __future__ import annotations

import logging

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from api.jsonio import json_response
from api.schemas import HealthResponse
from api.services import get_queue, get_store

log = logging.getLogger(__name__)

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health", description="Liveness")])


def _store_ok() -> bool:
    try:
        return bool(get_store().ping())
    except Exception as exc:  # an unopenable store is unreachable too
        log.warning("store unreachable: %s", type(exc).__name__)
        return False


def _broker_ok() -> bool:
    try:
        return bool(get_queue().ping())
    except Exception as exc:  # a broken broker URL is unreachable too
        log.warning("broker unreachable: %s", type(exc).__name__)
        return False


@bp.get("/health", responses={200: HealthResponse, 503: HealthResponse})
def health() -> Response:
    """Whether the broker and the store are reachable.

    Request: `GET /health`.
    200 `{"broker": "ok", "store": "ok"}` when both answer;
    503 `{"broker": "unreachable", "store": "ok"}` (either or both `unreachable`) otherwise.
    """
    broker, store = _broker_ok(), _store_ok()
    body = {"broker": "ok" if broker else "unreachable", "store": "ok" if store else "unreachable"}
    return json_response(body, 200 if broker and store else 503)
