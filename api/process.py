"""Package routes: submit a link, poll the status, delete a package and its statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag
from flask_openapi3.types import ResponseDict
from werkzeug.routing import PathConverter

from api import metering
from api.account_tokens import looks_like_a_token
from api.auth import BEARER_SECURITY, parse_bearer, require_owner
from api.errors import INVALID_LINK, process_refusal, unknown_package
from api.identity import require_principal
from api.jsonio import json_response
from api.queue import QueueUnavailable
from api.ratelimit import client_address
from api.schemas import (
    DeleteResponse,
    ErrorResponse,
    PackagePath,
    ProcessBody,
    ProcessLinkPath,
    ProcessRefused,
    ProcessResponse,
    ProcessRetryLater,
    RateLimitedResponse,
    StatusResponse,
)
from api.services import (
    forget_package_key,
    get_queue,
    get_settings,
    get_store,
    now,
    server_secret,
)
from storage import scratch
from storage.bandwidth import account_meter
from storage.base import EnqueueOutcome, PackageRecord, Status
from storage.links import InvalidLink, parse_package_link, with_meter
from storage.metering import client_meter

PREFIX = "/api/process"
LINK_CONVERTER = "link"
BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
RETRY_AFTER_SECONDS = "30"
PROCESSING = (Status.QUEUED, Status.DOWNLOADING, Status.ANALYZING)

bp = APIBlueprint(
    "process",
    __name__,
    abp_tags=[Tag(name="process", description="Submit a package, follow it, delete it")],
    abp_responses={400: ErrorResponse},
)
_SUBMIT_RESPONSES: ResponseDict = {200: ProcessResponse, 202: ProcessResponse, 400: ProcessResponse}
_SUBMIT_RESPONSES.update({401: ProcessRefused, 429: ProcessRetryLater, 503: ProcessRetryLater})
_OWNER_RESPONSES: ResponseDict = {401: ErrorResponse, 404: ErrorResponse, 429: RateLimitedResponse}


class LinkConverter(PathConverter):
    """Everything after the prefix, slashes and decoded newlines included.

    Werkzeug's `path` stops at a newline (`.` in its regex), so `%0A` in a link made the DELETE
    rule match instead and the client got a 405 rather than INVALID_LINK.
    """

    regex = r"[\s\S]+"
    part_isolating = False  # said explicitly: Werkzeug infers it from a "/" in the regex


def _accepted(package_id: str, status: int) -> Response:
    return json_response(
        {"isAccepted": True, "packageId": package_id, "errorMessageCode": None}, status
    )


def submit_link(link: str) -> Response:
    """Validate, store (link sealed) and queue a link; the shared body of both POST forms."""
    settings = get_settings()
    try:
        parsed = parse_package_link(link, settings.whitelisted_origins, settings.server_secret())
    except InvalidLink:
        return process_refusal(400, INVALID_LINK)
    meter = _submission_meter()
    package_id, store = parsed.package_id, get_store()
    assert store.links is not None  # open_store always sets it (storage.base.Store)
    sealed = store.links.seal(package_id, with_meter(parsed.url, meter))
    outcome = store.packages.enqueue(package_id, sealed, now())
    if outcome == EnqueueOutcome.EXISTING:
        store.links.discard(package_id, sealed)  # the stored link keeps its own key
        return _accepted(package_id, 200)
    try:
        get_queue().submit(package_id)
    except QueueUnavailable:
        # The package document owns status: mark it so a later POST re-queues it.
        store.packages.fail(package_id, None, BROKER_UNAVAILABLE, now())
        return process_refusal(503, BROKER_UNAVAILABLE, {"Retry-After": RETRY_AFTER_SECONDS})
    return _accepted(package_id, 202)


def _submission_meter() -> str | None:
    """The bandwidth meter a link's download is charged to (`storage.metering`): the account
    of an account token (401 for a bad one), else the client's when `METER_ANONYMOUS` is set,
    else none. 429 `BANDWIDTH_EXCEEDED` when it has nothing left today: the package would fail
    at its download anyway."""
    bearer = parse_bearer(request.headers.get("Authorization", ""))
    if bearer is not None and looks_like_a_token(bearer):
        meter = account_meter(require_principal().account.id)
    elif get_settings().meter_anonymous:
        meter = client_meter(server_secret(), client_address())
    else:
        return None
    if metering.allowance_left(meter) <= 0:
        raise metering.bandwidth_exceeded(now())
    return meter


def _raw_link(path_value: str) -> str:
    """The link of the path form, from the raw request URI when the server gives one.

    Werkzeug decodes `%2F` and may merge `//` before routing, so the path parameter is only a
    fallback; the raw URI is percent-decoded exactly once.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw and not raw.startswith("/"):  # absolute-form request target
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    prefix = f"{request.script_root}{PREFIX}/"
    if raw.startswith(prefix):
        return unquote(raw[len(prefix) :])
    query = request.query_string.decode("utf-8", "replace")
    return path_value + (f"?{unquote(query)}" if query else "")


@bp.post(PREFIX, responses={**_SUBMIT_RESPONSES, 413: ErrorResponse})
def submit_package(body: ProcessBody) -> Response:
    """Submit a package link for processing.

    Request: `POST /api/process` with `{"package_link": "https://click.discord.com/ls/click?upn=..."}`.
    202 `{"isAccepted": true, "packageId": "<md5 of UPN>", "errorMessageCode": null}`: queued.
    200 same body: already queued, running or processed (no second job).
    400 `{"isAccepted": false, "packageId": null, "errorMessageCode": "INVALID_LINK"}`.
    429 `errorMessageCode: "RATE_LIMITED"` with `Retry-After` (seconds): too many submissions
    from this address (`RATE_LIMIT_SUBMIT`).
    503 `errorMessageCode: "BROKER_UNAVAILABLE"` with `Retry-After: 30`: the package is marked
    errored and a later POST re-queues it. An ERRORED package is re-queued (202).
    413 REQUEST_ENTITY_TOO_LARGE (common error shape): a body over 64 KiB is not read.
    """
    return submit_link(body.package_link)


@bp.post(
    f"{PREFIX}/<{LINK_CONVERTER}:package_link>", responses=_SUBMIT_RESPONSES, merge_slashes=False
)
def submit_package_in_path(path: ProcessLinkPath) -> Response:
    """Submit a package link given URL-encoded in the path.

    Request: `POST /api/process/https%3A%2F%2Fclick.discord.com%2Fls%2Fclick%3Fupn%3D...`
    (no body). Same answers as `POST /api/process`: 202 queued, 200 already known,
    400 INVALID_LINK, 429 RATE_LIMITED with `Retry-After`, 503 BROKER_UNAVAILABLE with
    `Retry-After: 30`.
    """
    return submit_link(_raw_link(path.package_link))


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _queue_position(record: PackageRecord) -> dict[str, int]:
    ahead, total = get_store().packages.queue_position(record.package_id)
    return {"user": ahead if record.status == Status.QUEUED else 0, "total": total}


def status_document(record: PackageRecord) -> dict:
    """The Dumpus status body of a package record."""
    processed = record.status == Status.PROCESSED
    errored = record.status == Status.ERRORED
    percent = 100 if processed else max(0, min(100, record.progress or 0))
    return {
        "isDataAvailable": processed,
        "isProcessing": record.status in PROCESSING,
        "processingStep": None if errored else record.status.value,
        "progress": {
            "percent": percent,
            "bytesDone": record.bytes_done,
            "bytesTotal": record.bytes_total,
        },
        "processingQueuePosition": _queue_position(record),
        "isErrored": errored,
        "errorMessageCode": record.error_code if errored else None,
        "queuedAt": _iso(record.queued_at),
        "startedAt": _iso(record.started_at),
        "finishedAt": _iso(record.finished_at),
    }


@bp.get(
    f"{PREFIX}/<package_id>/status",
    responses={200: StatusResponse, **_OWNER_RESPONSES},
    security=BEARER_SECURITY,
)
def package_status(path: PackagePath) -> Response:
    """Where a package is: queued (with its place), downloading, analyzing, processed or errored.

    Request: `GET /api/process/<package_id>/status` with `Authorization: Bearer <UPN>`.
    200 `{"isDataAvailable": false, "isProcessing": true, "processingStep": "DOWNLOADING",
    "progress": {"percent": 40, "bytesDone": 400, "bytesTotal": 1000},
    "processingQueuePosition": {"user": 0, "total": 3}, "isErrored": false,
    "errorMessageCode": null, "queuedAt": "2024-05-01T12:00:00Z", "startedAt": "...",
    "finishedAt": null}`; an errored package has `processingStep: null`, `isErrored: true` and
    its `errorMessageCode`. 401 UNAUTHORIZED (missing or wrong UPN, whether or not the package
    exists), 404 UNKNOWN_PACKAGE_ID, 429 RATE_LIMITED with `Retry-After` (`RATE_LIMIT_READ`).
    """
    require_owner(path.package_id)
    record = get_store().packages.get(path.package_id)
    if record is None:
        raise unknown_package()
    return json_response(status_document(record))


@bp.delete(
    f"{PREFIX}/<package_id>",
    responses={200: DeleteResponse, **_OWNER_RESPONSES},
    security=BEARER_SECURITY,
)
def delete_package(path: PackagePath) -> Response:
    """Delete a package document, all its statistics and its app data file.

    Request: `DELETE /api/process/<package_id>` with `Authorization: Bearer <UPN>`.
    200 `{"isDeleted": true, "errorMessageCode": null}`; a worker still processing it notices
    its claim is gone and stops. 401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID, 429 RATE_LIMITED.
    """
    require_owner(path.package_id)
    if get_store().packages.get(path.package_id) is None:
        raise unknown_package()
    remove_package(path.package_id)
    return json_response({"isDeleted": True, "errorMessageCode": None})


def remove_package(package_id: str) -> None:
    """Remove a package's document, statistics and app data files (both DELETE routes)."""
    store = get_store()
    # The document first: a running worker loses its claim at once; statistics or a file it may
    # still write after this are orphans that the purge sweeper removes. Deleting the document
    # shreds the link's key; a download abandoned by a dead worker of this host goes too (a live
    # run removes its own as soon as it sees its claim gone).
    store.packages.delete(package_id)
    forget_package_key(package_id)
    store.statistics.delete_package(package_id)
    store.app_files.delete_package(package_id)
    scratch.sweep(get_settings().temp_dir)
