"""`POST /api/process/upload`: a package sent as it is, processed as a downloaded one (issue 14;
design in docs/uploads.md).

The zip comes as the request body (`application/zip` or any other type but multipart) or as the
first file of a `multipart/form-data` body. It needs an account's bearer token and a
`Content-Length` (411 without), which is checked against `MAX_UPLOAD_BYTES` (413) and charged
to the account's bandwidth of the UTC day before a byte is read (429 `BANDWIDTH_EXCEEDED` when it
does not fit); the charge is settled to the zip's size once it is accepted, and refunded if it
is not. The body streams to disk, encrypted (`storage.uploads`), never whole in memory; a body
that is cut short, too large or not a zip leaves no file.

Accepted, the upload gets a fresh random key, answered once: it is the package's UPN (its MD5
the package id), the only way to read the statistics. The same bytes uploaded again by the same
account while their package lives are recognised by their digest (`storage.upload_digests`)
and not processed twice: 200 `ALREADY_UPLOADED`, with the package id and no key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from flask import Response, request
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

from api import metering
from api.errors import ApiError
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, require_principal
from api.jsonio import json_response
from api.process import BROKER_UNAVAILABLE, RETRY_AFTER_SECONDS
from api.queue import QueueUnavailable
from api.schemas import ErrorResponse, RateLimitedResponse, RetryLaterResponse
from api.services import get_queue, get_settings, get_store, now, server_secret
from settings import Settings
from storage.base import Status
from storage.crypto import package_id_for
from storage.links import new_upload_key, upload_link
from storage.upload_digests import upload_digest
from storage.uploads import CHUNK_BYTES, Incoming, UploadTooLarge, upload_key

PATH = "/api/process/upload"
ENDPOINT = "uploads.upload_package"
ALREADY_UPLOADED = "ALREADY_UPLOADED"
METER_NAME = "direct upload"  # the file name an upload is metered under: never the client's
FORM_FIELD_MAX = 64 * 1024  # bytes of one non-file field of a multipart body

bp = APIBlueprint(
    "uploads", __name__, abp_security=ACCOUNT_SECURITY, abp_responses=BEARER_ROUTE_RESPONSES
)


class UploadResponse(BaseModel):
    isAccepted: bool
    packageId: str = Field(description="md5 of the key")
    errorMessageCode: Literal["ALREADY_UPLOADED"] | None = Field(
        description="ALREADY_UPLOADED: these bytes were uploaded before by this account"
    )
    key: str | None = Field(
        description="The package's key, shown once: send it as `Authorization: Bearer <key>` "
        "to the status and data routes, as a UPN. null for ALREADY_UPLOADED"
    )


class Unreadable(Exception):
    """The body ended before its Content-Length, or holds no file (multipart)."""


@bp.post(
    PATH,
    summary="Upload a package zip and process it",
    responses={
        200: UploadResponse,
        202: UploadResponse,
        411: ErrorResponse,
        413: ErrorResponse,
        429: RateLimitedResponse,
        503: RetryLaterResponse,
    },
)
def upload_package() -> Response:
    """The zip as the body (or the first file of a multipart body), with `Content-Length`.

    202: accepted and queued, with its `key` (shown once). 200 `ALREADY_UPLOADED`: the same
    bytes by the same account, their package still there. 400 `NOT_A_ZIP`,
    `UPLOAD_INCOMPLETE` (the body ended early), `NO_FILE` (a multipart body without a file);
    411 `LENGTH_REQUIRED`; 413 `UPLOAD_TOO_LARGE` (`MAX_UPLOAD_BYTES`); 429
    `BANDWIDTH_EXCEEDED` with `Retry-After` (the next UTC day); 503 `BROKER_UNAVAILABLE`.
    """
    principal = require_principal()
    settings = get_settings()
    declared = declared_length(settings)
    charge = metering.charge_account(principal.account.id, declared, METER_NAME)
    try:
        answer, size = receive_package(principal.account.id, request_body(declared))
    except BaseException:
        charge.refund()
        raise
    charge.settle(size)
    return answer


def declared_length(settings: Settings) -> int:
    declared = request.content_length
    if declared is None:
        raise ApiError(411, "LENGTH_REQUIRED", "an upload needs a Content-Length")
    if declared > settings.max_upload_bytes:
        limit = settings.max_upload_bytes
        raise ApiError(413, "UPLOAD_TOO_LARGE", f"an upload has at most {limit} bytes")
    return declared


def receive_package(account_id: str, chunks: Iterable[bytes]) -> tuple[Response, int]:
    """A package zip made of `chunks`, kept and queued unless these bytes were uploaded by the
    account before: the answer, and the bytes of the zip received."""
    key_material = new_upload_key()
    package_id = package_id_for(key_material)
    store, settings = get_store(), get_settings()
    assert store.links is not None  # open_store always gives one
    key = upload_key(key_material, server_secret())
    with store.links.uploads.incoming(package_id, key, settings.max_upload_bytes) as incoming:
        write_all(incoming, chunks)
        if not incoming.looks_like_a_zip():
            raise ApiError(400, "NOT_A_ZIP", "the upload is not a zip file")
        digest = upload_digest(server_secret(), account_id, incoming.sha256)
        earlier = _live_package_of(digest)
        if earlier is not None:
            return _answer(earlier, None, 200), incoming.size
        incoming.keep()
        sealed = store.links.seal(package_id, upload_link(key_material))
        store.packages.enqueue(package_id, sealed, now())
        store.upload_digests.remember(digest, package_id, now())
    return _queued(package_id, key_material), incoming.size


def request_body(declared: int) -> Iterator[bytes]:
    """The request's file as it arrives: the body, or the first file of a multipart body."""
    chunks = _body_chunks(declared)
    if request.mimetype == "multipart/form-data":
        chunks = _first_file(chunks, request.mimetype_params.get("boundary", ""))
    return chunks


def write_all(incoming: Incoming, chunks: Iterable[bytes]) -> None:
    """Every chunk written to `incoming`, then finished; 400 or 413 when it cannot be."""
    try:
        for chunk in chunks:
            incoming.write(chunk)
    except UploadTooLarge:
        limit = get_settings().max_upload_bytes
        raise ApiError(413, "UPLOAD_TOO_LARGE", f"an upload has at most {limit} bytes") from None
    except Unreadable as exc:
        raise ApiError(400, str(exc), _UNREADABLE[str(exc)]) from None
    incoming.finish()


_UNREADABLE = {
    "NO_FILE": "the multipart body holds no file",
    "UPLOAD_INCOMPLETE": "the body ended before its Content-Length",
}


def _body_chunks(declared: int) -> Iterator[bytes]:
    stream, left = request.stream, declared
    while left:
        try:
            chunk = stream.read(min(CHUNK_BYTES, left))
        except Exception:  # the client gone (ClientDisconnected), a reset connection...
            chunk = b""
        if not chunk:
            raise Unreadable("UPLOAD_INCOMPLETE")
        left -= len(chunk)
        yield chunk


def _first_file(chunks: Iterable[bytes], boundary: str) -> Iterator[bytes]:
    """The bytes of the first file part of a multipart body, as they arrive."""
    decoder = MultipartDecoder(boundary.encode(), max_form_memory_size=FORM_FIELD_MAX)
    state = "before"  # -> "in" the first file -> "after" it
    for chunk in chunks:
        decoder.receive_data(chunk)
        event = decoder.next_event()
        while not isinstance(event, NeedData | Epilogue):
            if isinstance(event, File) and state == "before":
                state = "in"
            elif isinstance(event, Data) and state == "in":
                yield event.data
                state = "in" if event.more_data else "after"
            event = decoder.next_event()
    if state != "after":
        raise Unreadable("NO_FILE")


def _live_package_of(digest: str) -> str | None:
    """The package these bytes made earlier, unless it is gone or failed (then they are new)."""
    store = get_store()
    package_id = store.upload_digests.package_of(digest)
    if package_id is None:
        return None
    record = store.packages.get(package_id)
    if record is None or record.status == Status.ERRORED:
        return None
    return package_id


def _queued(package_id: str, key_material: str) -> Response:
    try:
        get_queue().submit(package_id)
    except QueueUnavailable:
        # The package ends here (its upload with it): the same bytes may be sent again.
        get_store().packages.fail(package_id, None, BROKER_UNAVAILABLE, now())
        raise ApiError(
            503,
            BROKER_UNAVAILABLE,
            "the queue is unavailable; upload again later",
            {"Retry-After": RETRY_AFTER_SECONDS},
        ) from None
    return _answer(package_id, key_material, 202)


def _answer(package_id: str, key: str | None, status: int) -> Response:
    code = None if key else ALREADY_UPLOADED
    body = {"isAccepted": True, "packageId": package_id, "errorMessageCode": code, "key": key}
    return json_response(body, status)
