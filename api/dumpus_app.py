"""The official Dumpus app's routes, under the base URL `https://<host>/dumpus`.

The app (its "Backend URL" setting) calls `POST {base}/process`, polls `GET .../status` every
second, then gets its data file through `GET .../blob` (app 1.0.6 and later: a signed URL it
fetches with no header) or `GET .../data` (app 1.0.5 and earlier: the file decrypted here with
the bearer UPN); `GET .../user/<id>` names people from the package's own profiles; `DELETE`
removes the package, its statistics and its file. Bodies, codes and statuses are the app's (see
`api.dumpus_app_status`); our own `/api/...` routes are untouched. CORS: `api.cors`.
"""

from __future__ import annotations

import orjson
from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag

from api import dumpus_app_files
from api.auth import BEARER_SECURITY
from api.dumpus_app_files import LIMITED, PREFIX, app_owner
from api.dumpus_app_schemas import (
    AppDeleteResponse,
    AppPackagePath,
    AppProcessResponse,
    AppProcessRetryLater,
    AppStatusResponse,
    AppUserPath,
    AppUserResponse,
)
from api.dumpus_app_status import app_error_code, refusal_document, status_document
from api.errors import ApiError, unauthorized, unknown_package
from api.jsonio import json_response
from api.process import remove_package, submit_link
from api.schemas import ErrorResponse, ProcessBody
from api.services import get_store, package_key
from storage.base import PackageRecord, Status
from storage.crypto import DecryptionError, PackageKey

SUBMIT_ENDPOINT = "dumpus_app.app_submit"

bp = APIBlueprint(
    "dumpus_app",
    __name__,
    abp_tags=[Tag(name="dumpus app", description="The Dumpus app's routes (base URL: /dumpus)")],
)


@bp.post(
    PREFIX,
    responses={
        200: AppProcessResponse,
        202: AppProcessResponse,
        400: AppProcessResponse,
        413: ErrorResponse,
        429: AppProcessRetryLater,
        503: AppProcessRetryLater,
    },
)
def app_submit(body: ProcessBody) -> Response:
    """Submit a package link, as the app does.

    Request: `POST /dumpus/process` with `{"package_link": "https://click.discord.com/..."}`.
    202 `{"isAccepted": true, "packageId": "<md5 of UPN>", "errorMessageCode": null}` queued;
    200 the same when already known (the app posts again after a restart). 400 INVALID_LINK;
    429 and 503 `errorMessageCode: "UNKNOWN_ERROR"` with `Retry-After`.
    """
    return submit_link(body.package_link)


@bp.after_request
def _app_codes_only(response: Response) -> Response:
    """Refusals of the submit route (the limiter's 429 included) carry codes the app shows."""
    if request.endpoint != SUBMIT_ENDPOINT or response.mimetype != "application/json":
        return response
    body = orjson.loads(response.get_data())
    if isinstance(body, dict) and body.get("errorMessageCode") is not None:
        body["errorMessageCode"] = app_error_code(body["errorMessageCode"])
        response.set_data(orjson.dumps(body))
    return response


@bp.get(
    f"{PREFIX}/<package_id>/status",
    responses={200: AppStatusResponse, 401: AppStatusResponse, 404: AppStatusResponse, **LIMITED},
    security=BEARER_SECURITY,
)
def app_status(path: AppPackagePath) -> Response:
    """Where a package is, in the app's words.

    Request: `GET /dumpus/process/<package_id>/status` with `Authorization: Bearer <UPN>`.
    200 `{"isDataAvailable": false, "isUpgraded": false, "isProcessing": true, "isErrored":
    false, "errorMessageCode": null, "processingStep": "LOCKED", "processingQueuePosition":
    {"standardQueueUser": 2, "standardQueueTotal": 5, ...}}`; steps LOCKED (queued),
    DOWNLOADING, ANALYZING, PROCESSED (the data file is ready). Errored: `isErrored: true`,
    `processingStep: null` and one of the app's six codes. 401 the same document with
    UNAUTHORIZED, 404 with UNKNOWN_PACKAGE_ID, 429 RATE_LIMITED with `Retry-After`.
    """
    store = get_store()
    if app_owner(path.package_id) is None:
        return json_response(refusal_document("UNAUTHORIZED"), 401)
    record = store.packages.get(path.package_id)
    if record is None:
        return json_response(refusal_document("UNKNOWN_PACKAGE_ID"), 404)
    ahead, total = store.packages.queue_position(record.package_id)
    app_file = None
    if record.status == Status.PROCESSED:
        app_file = store.app_files.get(record.package_id, record.generation)
    return json_response(status_document(record, app_file, ahead, total))


@bp.get(
    f"{PREFIX}/<package_id>/user/<user_id>",
    responses={200: AppUserResponse, 401: ErrorResponse, 404: ErrorResponse, **LIMITED},
    security=BEARER_SECURITY,
)
def app_user(path: AppUserPath) -> Response:
    """A person's names and avatar, from the package's own profiles (never from Discord).

    Request: `GET /dumpus/process/<package_id>/user/<user_id>` with `Authorization: Bearer`.
    200 `{"user_id": "208", "username": "bob", "display_name": "Bob", "avatar_url": null}`
    for the owner, a relationship or a DM person. 401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID
    (also before processing ended) or UNKNOWN_USER, 429 RATE_LIMITED with `Retry-After`.
    """
    upn = app_owner(path.package_id)
    if upn is None:
        raise unauthorized()
    record = get_store().packages.get(path.package_id)
    if record is None or record.status != Status.PROCESSED:
        raise unknown_package()
    key = package_key(record.package_id, upn)
    # The owner and relationships have a profile view; other DM people have their DM view.
    profile = _view(record, key, f"user:{path.user_id}") or _view(record, key, f"dm:{path.user_id}")
    if profile is None:
        raise ApiError(404, "UNKNOWN_USER", "no such user in this package")
    names = ("username", "display_name", "avatar_url")
    return json_response({"user_id": path.user_id, **{k: profile.get(k) for k in names}})


def _view(record: PackageRecord, key: PackageKey, name: str) -> dict | None:
    blob = get_store().statistics.get(record.package_id, record.generation, key.view_id(name))
    if blob is None:
        return None
    try:
        return key.open(name, blob)
    except DecryptionError:
        raise unauthorized() from None


@bp.delete(
    f"{PREFIX}/<package_id>",
    responses={200: AppDeleteResponse, 401: AppDeleteResponse, 404: AppDeleteResponse, **LIMITED},
    security=BEARER_SECURITY,
)
def app_delete(path: AppPackagePath) -> Response:
    """Delete the package, its statistics and its data file.

    Request: `DELETE /dumpus/process/<package_id>` with `Authorization: Bearer <UPN>`.
    200 `{"isDeleted": true, "errorMessageCode": null}`; 401 `{"isDeleted": false,
    "errorMessageCode": "UNAUTHORIZED"}`; 404 the same with UNKNOWN_PACKAGE_ID (JSON on every
    status: the app deletes its own copy only once it has read one); 429 RATE_LIMITED.
    """
    if app_owner(path.package_id) is None:
        return json_response({"isDeleted": False, "errorMessageCode": "UNAUTHORIZED"}, 401)
    if get_store().packages.get(path.package_id) is None:
        return json_response({"isDeleted": False, "errorMessageCode": "UNKNOWN_PACKAGE_ID"}, 404)
    remove_package(path.package_id)
    return json_response({"isDeleted": True, "errorMessageCode": None})


dumpus_app_files.register(bp)
