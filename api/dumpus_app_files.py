"""The Dumpus app's data file routes: `/blob` (a signed URL and the IV), the signed download
itself, and `/data` (the file decrypted with the bearer UPN, for app versions up to 1.0.5).

The stored file is the ciphertext only; the server decrypts it nowhere but in `/data`, with the
UPN the old app sends as its bearer token, for the time of the answer.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, request, url_for
from flask_openapi3 import APIBlueprint
from flask_openapi3.types import ResponseDict
from werkzeug.wsgi import wrap_file

from api.auth import BEARER_SECURITY, bearer_token
from api.blob_links import BlobLinks
from api.cors import APP_PREFIX, DOWNLOAD_PREFIX
from api.dumpus_app_schemas import (
    OCTET_STREAM,
    AppBlobResponse,
    AppPackagePath,
    SignedDownloadPath,
)
from api.dumpus_app_status import APP_FILE_UNAVAILABLE
from api.errors import ApiError, unauthorized, unknown_package
from api.jsonio import json_response
from api.schemas import ErrorResponse, RateLimitedResponse
from api.services import get_settings, get_store, now
from storage.app_file_crypto import decrypt_app_file
from storage.base import AppFileRecord, PackageRecord, Status
from storage.crypto import owns_package

PREFIX = f"{APP_PREFIX}/process"
CHUNK_BYTES = 256 * 1024
NO_STORE = {"Cache-Control": "no-store"}
LIMITED: ResponseDict = {429: RateLimitedResponse}
_FILE_ERRORS: ResponseDict = {401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, **LIMITED}


def app_owner(package_id: str) -> str | None:
    """The bearer UPN when it owns the package (constant-time check), else None."""
    token = bearer_token()
    if token is None or not owns_package(token, package_id, get_settings().server_secret()):
        return None
    return token


def _processed_file(package_id: str) -> tuple[PackageRecord, AppFileRecord]:
    """The package and its data file: 404 unknown, 409 not processed, 404 without a file."""
    record = get_store().packages.get(package_id)
    if record is None:
        raise unknown_package()
    if record.status != Status.PROCESSED:
        raise ApiError(409, "NOT_PROCESSED", "the package is not processed")
    app_file = get_store().app_files.get(package_id, record.generation)
    if app_file is None or app_file.iv is None:
        code = (app_file.error_code if app_file else None) or APP_FILE_UNAVAILABLE
        raise ApiError(404, code, "this package has no data file for the app")
    return record, app_file


def app_blob(path: AppPackagePath) -> Response:
    """Where to download the encrypted data file, and its IV.

    Request: `GET /dumpus/process/<package_id>/blob` with `Authorization: Bearer <UPN>`.
    200 `{"url": "https://<host>/dumpus/blob/<package_id>/<generation>/<expires>/<signature>",
    "iv": "<32 hex>", "ttl": 300}`: the URL needs no header and works `DUMPUS_BLOB_URL_TTL`
    seconds; the file is AES-256-CBC (key SHA-256 of the UPN, this IV) over the gzipped SQLite
    file. 401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID or MISSING_USER_DATA (no file for the app),
    409 NOT_PROCESSED, 429 RATE_LIMITED.
    """
    if app_owner(path.package_id) is None:
        raise unauthorized()
    record, app_file = _processed_file(path.package_id)
    settings = get_settings()
    expires = int(now()) + settings.dumpus_blob_url_ttl
    signature = BlobLinks(settings.server_secret()).signature(
        record.package_id, record.generation, expires
    )
    url = url_for(
        "dumpus_app.app_download",
        package_id=record.package_id,
        generation=record.generation,
        expires=expires,
        signature=signature,
        _external=True,
    )
    body = {"url": url, "iv": app_file.iv, "ttl": settings.dumpus_blob_url_ttl}
    return json_response(body, headers=NO_STORE)


def app_download(path: SignedDownloadPath) -> Response:
    """The encrypted data file, by a signed URL from `/blob` (no header, any origin).

    Request: `GET /dumpus/blob/<package_id>/<generation>/<expires>/<signature>`.
    200 the ciphertext (`application/octet-stream`, never a `Content-Encoding`,
    `Access-Control-Allow-Origin: *`). 400 INVALID_REQUEST (not numbers where numbers go),
    403 INVALID_SIGNATURE or URL_EXPIRED, 404
    UNKNOWN_PACKAGE_ID (deleted, or processed again since), 429 RATE_LIMITED.
    """
    links = BlobLinks(get_settings().server_secret())
    if not links.is_valid(path.package_id, path.generation, path.expires, path.signature):
        raise ApiError(403, "INVALID_SIGNATURE", "this download URL is not valid")
    if path.expires < now():
        raise ApiError(403, "URL_EXPIRED", "this download URL has expired: ask /blob again")
    store = get_store()
    record = store.packages.get(path.package_id)
    current = record is not None and record.status == Status.PROCESSED
    app_file = store.app_files.get(path.package_id, path.generation) if current else None
    stream = None
    if record is not None and app_file is not None and record.generation == path.generation:
        stream = store.app_files.open(path.package_id, path.generation)
    if stream is None or app_file is None:  # (no stream without an app file)
        raise unknown_package()
    headers = {**NO_STORE, "Content-Length": str(app_file.size)}
    body = wrap_file(request.environ, stream, CHUNK_BYTES)
    return Response(
        body, mimetype="application/octet-stream", headers=headers, direct_passthrough=True
    )


def app_data(path: AppPackagePath) -> Response:
    """The data file decrypted with the bearer UPN, for app versions up to 1.0.5.

    Request: `GET /dumpus/process/<package_id>/data` with `Authorization: Bearer <UPN>`.
    200 the gzipped SQLite file (`application/octet-stream`, no `Content-Encoding`).
    401 UNAUTHORIZED, 404 UNKNOWN_PACKAGE_ID or MISSING_USER_DATA, 409 NOT_PROCESSED,
    429 RATE_LIMITED.
    """
    upn = app_owner(path.package_id)
    if upn is None:
        raise unauthorized()
    record, app_file = _processed_file(path.package_id)
    stream = get_store().app_files.open(record.package_id, record.generation)
    if stream is None:
        raise unknown_package()
    plain = decrypt_app_file(upn, app_file.iv or "", _chunks(stream))
    return Response(plain, mimetype="application/octet-stream", headers=NO_STORE)


def _chunks(stream) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


def register(bp: APIBlueprint) -> None:
    """Declare the file routes on the app's blueprint."""
    bp.get(
        f"{PREFIX}/<package_id>/blob",
        responses={200: AppBlobResponse, **_FILE_ERRORS},
        security=BEARER_SECURITY,
    )(app_blob)
    bp.get(
        f"{DOWNLOAD_PREFIX}/<package_id>/<generation>/<expires>/<signature>",
        responses={
            200: dict(OCTET_STREAM),
            400: ErrorResponse,
            403: ErrorResponse,
            404: ErrorResponse,
            **LIMITED,
        },
    )(app_download)
    bp.get(
        f"{PREFIX}/<package_id>/data",
        responses={200: dict(OCTET_STREAM), **_FILE_ERRORS},
        security=BEARER_SECURITY,
    )(app_data)
