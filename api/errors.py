"""Error shapes and handlers: every failure answers `{"error": {"code", "message"}}` JSON.

The process routes keep the Dumpus shape (`isAccepted` / `errorMessageCode`) for their own
refusals; everything else, including 404/405 of unknown paths, request validation errors and
unexpected exceptions, uses the shape above. Nothing a client sent is ever echoed back.

A store outage (`storage.errors.is_store_unavailable`: MongoDB unreachable or without a primary,
SQLite locked or unopenable) is 503 STORE_UNAVAILABLE with `Retry-After` (STORE_RETRY_AFTER) on
every route, never a 500 and never the driver's message. On the process routes the body also
carries their own fields (`isAccepted: false`, `errorMessageCode: "STORE_UNAVAILABLE"`), so a
client reading either shape understands it.

Two answers Werkzeug would otherwise give outside that shape are turned into it: a routing
redirect (a path with `//`, or `..%2F/` once decoded, matches a rule only after merging slashes;
Flask returns that 308 as-is, HTML page and all) is a 404, and a chunked body over
`MAX_CONTENT_LENGTH` (which Werkzeug silently cuts at the cap, so the JSON no longer parsed and the
process routes answered INVALID_LINK) is 413 like a body whose Content-Length is over it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import RequestRedirect

from api.jsonio import json_response
from api.schemas import RETRY_AFTER_HEADER
from api.services import get_settings
from storage.errors import is_store_unavailable

log = logging.getLogger(__name__)
ERROR_RESPONSE_REF = "#/components/schemas/ErrorResponse"

INVALID_REQUEST = "INVALID_REQUEST"
INVALID_LINK = "INVALID_LINK"
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
STORE_UNAVAILABLE_MESSAGE = "the store is unavailable; try again later"
# Routes whose seed answers a bad query with 422 rather than 400.
UNPROCESSABLE_ENDPOINTS = ("usage.usage_trends",)
PROCESS_ENDPOINTS = (
    "process.submit_package",
    "process.submit_package_in_path",
    "dumpus_app.app_submit",
)


class ApiError(Exception):
    """An expected failure with its HTTP status, code and message (plus optional fields)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """The common error body with that status."""
    return json_response({"error": {"code": code, "message": message, **extra}}, status, headers)


def unauthorized() -> ApiError:
    """The one answer to a missing or wrong UPN, whether or not the package exists."""
    return ApiError(401, "UNAUTHORIZED", "a valid 'Authorization: Bearer <UPN>' is required")


def unknown_package() -> ApiError:
    """The package does not exist (only answered to its owner)."""
    return ApiError(404, "UNKNOWN_PACKAGE_ID", "no package has this id")


def process_refusal(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    """The Dumpus process routes' refusal shape."""
    body = {"isAccepted": False, "packageId": None, "errorMessageCode": code}
    return json_response(body, status, headers)


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's validation callback: a coded field error or 400 INVALID_REQUEST."""
    errors = exc.errors(include_input=False, include_url=False)
    first = next((e for e in errors if e["type"].isupper()), errors[0] if errors else None)
    if first is None:
        return error_response(400, INVALID_REQUEST, "the request is not valid")
    code = first["type"]
    # The process routes answer any bad body in their own shape (a JSON string body, for one,
    # fails as invalid JSON before the model's own INVALID_LINK validator runs).
    if code == INVALID_LINK or request.endpoint in PROCESS_ENDPOINTS:
        return process_refusal(400, INVALID_LINK)
    if code.isupper():
        return error_response(404 if code.startswith("UNKNOWN_") else 400, code, first["msg"])
    where = ".".join(str(part) for part in first["loc"]) or "request"
    if request.endpoint in UNPROCESSABLE_ENDPOINTS:
        return error_response(422, "INVALID_QUERY", f"{where}: {first['msg']}")
    return error_response(400, INVALID_REQUEST, f"{where}: {first['msg']}")


def _api_error(exc: ApiError) -> Response:
    if request.endpoint in PROCESS_ENDPOINTS:  # their own shape, with the common error object
        error = {"code": exc.code, "message": exc.message, **exc.extra}
        body = {"isAccepted": False, "packageId": None, "errorMessageCode": exc.code}
        return json_response({**body, "error": error}, exc.status, exc.headers)
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").upper().replace(" ", "_").replace("'", "")
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    message = exc.description or exc.name or "error"
    if exc.code == 404:
        message = "no route matches this path"
    return error_response(exc.code or 500, code, message, headers)


def store_unavailable_body(process_route: bool) -> dict[str, Any]:
    """The 503 STORE_UNAVAILABLE body (with the process routes' own fields on those routes)."""
    error = {"code": STORE_UNAVAILABLE, "message": STORE_UNAVAILABLE_MESSAGE}
    body: dict[str, Any] = {"error": error}
    if process_route:
        body |= {"isAccepted": False, "packageId": None, "errorMessageCode": STORE_UNAVAILABLE}
    return body


def _store_unavailable(exc: Exception) -> Response:
    log.warning("store unavailable while serving a request: %s", type(exc).__name__)
    headers = {"Retry-After": str(get_settings().store_retry_after)}
    body = store_unavailable_body(request.endpoint in PROCESS_ENDPOINTS)
    return json_response(body, 503, headers)


def document_store_unavailable(spec: dict[str, Any], exempt: tuple[str, ...]) -> None:
    """Add the 503 STORE_UNAVAILABLE answer to every operation of the OpenAPI document that
    does not already document a 503 (those say which shapes it takes), except `exempt` paths."""
    answer = {
        "description": "STORE_UNAVAILABLE: the store is down for now; see `Retry-After`",
        "headers": RETRY_AFTER_HEADER,
        "content": {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}},
    }
    for path, item in spec.get("paths", {}).items():
        if path in exempt:
            continue
        for operation in item.values():
            operation.get("responses", {}).setdefault("503", answer)


def _unexpected_error(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if is_store_unavailable(exc):
        return _store_unavailable(exc)
    # The exception type only: messages of lower layers are not ours to log or return.
    log.error("unexpected %s while serving a request", type(exc).__name__, exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "an unexpected error occurred")


def _refuse_routing_redirects() -> None:
    """404 where routing would redirect: the API has one spelling per path and answers JSON."""
    if isinstance(request.routing_exception, RequestRedirect):
        raise NotFound()


def _chunked_body() -> bool:
    """A body without Content-Length that the server ends for us (gunicorn does)."""
    environ = request.environ  # read directly: this runs on every request
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return False
    # Without wsgi.input_terminated, Werkzeug reads no such body at all: nothing to cap.
    return bool(environ.get("wsgi.input_terminated")) and request.content_length is None


def _refuse_oversized_streams() -> None:
    """413 for a chunked body that goes past MAX_CONTENT_LENGTH, as for a Content-Length over it."""
    if not _chunked_body():  # first: it settles almost every request from the environ alone
        return
    if request.endpoint in STREAMED_ENDPOINTS:
        return
    limit = request.max_content_length
    if limit is None:
        return
    try:
        body = request.get_data(cache=True)  # cached for the view; stops at the cap
        # The capped stream never reads past the cap: one more byte underneath means it was over.
        over = len(body) >= limit and bool(request.environ["wsgi.input"].read(1))
    except HTTPException:
        raise
    except Exception as exc:  # the server's chunk reader refusing a malformed chunk, for one
        raise BadRequest("the request body could not be read") from exc
    if over:
        raise RequestEntityTooLarge()


# Routes whose body may be larger than MAX_CONTENT_LENGTH, and the setting that bounds it.
LARGE_BODY_ENDPOINTS = {
    "events.create_events": "events_body_max_bytes",
    "uploads.upload_package": "max_upload_bytes",
    "project_files.upload_file": "max_upload_bytes",
    "project_files.upload_version": "max_upload_bytes",
}
# Routes that stream their body themselves (never read whole here, even when chunked).
STREAMED_ENDPOINTS = (
    "uploads.upload_package",
    "project_files.upload_file",
    "project_files.upload_version",
)


def _route_body_limit() -> None:
    setting = LARGE_BODY_ENDPOINTS.get(request.endpoint or "")
    if setting is not None:
        request.max_content_length = getattr(get_settings(), setting)


def init_app(app: Flask) -> None:
    """Register the error handlers and the checks that run before routing's answer."""
    app.before_request(_refuse_routing_redirects)
    app.before_request(_route_body_limit)
    app.before_request(_refuse_oversized_streams)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
