"""Answers outside the app's routes still use the error shape: a chunked body over the cap, a path
Werkzeug would redirect, and the requests gunicorn refuses before the app sees them (the worker's
side; tests/integration/test_gunicorn_surface.py sends them to a real gunicorn)."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest
from gunicorn.http import errors as http_errors

from api import gunicorn_worker
from api.gunicorn_worker import JsonErrorWorker, refusal
from tests.api.api_support import discord_link, new_upn, path_form

CAP = 64 * 1024
PACKAGE_ID = "0123456789abcdef0123456789abcdef"
# gunicorn sets it: Werkzeug then caps a body without Content-Length at MAX_CONTENT_LENGTH.
CHUNKED = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
TERMINATED = {"wsgi.input_terminated": True}


def chunked_post(client, path: str, body: bytes, headers: dict[str, str] | None = None):
    """POST a body with no Content-Length, as gunicorn hands over a chunked one."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**CHUNKED, **(headers or {})},
        environ_overrides=TERMINATED,
    )


def link_document(upn: str, size: int) -> bytes:
    """A JSON body holding a link, padded to exactly `size` bytes."""
    head = json.dumps({"package_link": discord_link(upn), "pad": ""}).encode()
    return head[:-2] + b"x" * (size - len(head)) + b'"}'


# -- a chunked body over the cap -------------------------------------------------------------------


def test_a_chunked_body_over_the_cap_is_the_same_413_as_a_sized_one(client):
    upn = new_upn()
    document = link_document(upn, CAP + 1)
    sized = client.post("/api/process", data=document, content_type="application/json")
    chunked = chunked_post(client, "/api/process", document)
    assert sized.status_code == chunked.status_code == 413
    assert chunked.get_json() == sized.get_json()
    assert chunked.get_json()["error"]["code"] == "REQUEST_ENTITY_TOO_LARGE"


def test_a_chunked_body_over_the_cap_on_the_path_form_is_413(client):
    response = chunked_post(client, path_form(discord_link(new_upn())), b"x" * (CAP + 10))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "REQUEST_ENTITY_TOO_LARGE"


def test_a_chunked_body_within_the_cap_is_read_whole(client, queue):
    upn = new_upn()
    response = chunked_post(
        client, "/api/process", json.dumps({"package_link": discord_link(upn)}).encode()
    )
    assert response.status_code == 202
    assert queue.submitted == [response.get_json()["packageId"]]


def test_a_chunked_body_of_exactly_the_cap_is_not_413(client):
    response = chunked_post(client, "/api/process", link_document(new_upn(), CAP))
    assert response.status_code != 413


class BrokenChunks(io.BytesIO):
    """A body whose reader fails the way gunicorn's does on a malformed chunk."""

    def read(self, size: int | None = -1) -> bytes:
        raise http_errors.InvalidChunkSize(b"zz" + discord_link("u" * 600).encode())

    readinto = read1 = read  # type: ignore[assignment]


def test_a_chunked_body_that_cannot_be_read_is_400_not_500(client, caplog):
    response = client.post(
        "/api/process",
        input_stream=BrokenChunks(b"{}"),
        headers=CHUNKED,
        environ_overrides=TERMINATED,
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "BAD_REQUEST"
    assert "discord" not in caplog.text


# -- routing redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/data/..//about",  # `..%2F/about` once gunicorn has decoded it
        f"/api/data/{PACKAGE_ID}//about",
        f"/api/data/{PACKAGE_ID}//user/112233445566778899",
        "/openapi",  # strict slashes: `/openapi/` is the rule
    ],
)
def test_a_path_werkzeug_would_redirect_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
    assert "Location" not in response.headers


# -- the requests gunicorn refuses -----------------------------------------------------------------

LINK = discord_link("SECRETupn" + "AbC.def_0123456789-xyZ" * 30)
REFUSED = [
    (http_errors.InvalidRequestLine(f"POST {LINK}"), 400, "MALFORMED_REQUEST_LINE"),
    (http_errors.InvalidRequestMethod(LINK), 400, "MALFORMED_REQUEST_LINE"),
    (http_errors.InvalidHTTPVersion(f"HTTP/1.1 {LINK}"), 400, "MALFORMED_REQUEST_LINE"),
    (http_errors.LimitRequestLine(20000, 16384), 414, "URI_TOO_LONG"),
    (http_errors.LimitRequestHeaders(f"Referer: {LINK}"), 431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
    (http_errors.InvalidHeader(f"Referer: {LINK}"), 400, "MALFORMED_HEADER"),
    (http_errors.InvalidHeaderName(LINK), 400, "MALFORMED_HEADER"),
    (http_errors.InvalidChunkSize(LINK.encode()), 400, "MALFORMED_BODY"),
    (http_errors.UnsupportedTransferCoding(LINK), 501, "UNSUPPORTED_TRANSFER_CODING"),
    (http_errors.ForbiddenProxyRequest("192.0.2.1"), 403, "FORBIDDEN"),
    (http_errors.InvalidResponseHeader(LINK), 500, "INTERNAL_ERROR"),
    (RuntimeError(LINK), 500, "INTERNAL_ERROR"),
]


class FakeWorker:
    """What `handle_error` uses of a worker: its logger."""

    log = logging.getLogger("gunicorn.error")


def answer_of(exc: BaseException) -> bytes:
    """What the worker writes to the client for that exception."""
    server, client = socket.socketpair()
    with server, client:
        JsonErrorWorker.handle_error(FakeWorker(), None, server, ("127.0.0.1", 5000), exc)
        server.close()
        return client.makefile("rb").read()


@pytest.mark.parametrize(
    ("exc", "status", "code"), REFUSED, ids=[type(e).__name__ for e, *_ in REFUSED]
)
def test_gunicorn_refusals_are_json_and_quote_nothing(exc, status, code, caplog):
    caplog.set_level(logging.INFO)
    raw = answer_of(exc)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head and b"Connection: close" in head
    assert json.loads(body) == {"error": {"code": code, "message": refusal(exc)[2]}}
    assert b"discord" not in raw and b"SECRETupn" not in raw
    assert "SECRETupn" not in caplog.text and "discord" not in caplog.text
    assert f"- <unparsed> {status} -" in caplog.text


def test_the_request_line_cap_fits_the_longest_path_form():
    upn = "a" * 8192
    line = f"POST {path_form(discord_link(upn))} HTTP/1.1"
    assert 8190 < len(line) <= gunicorn_worker.REQUEST_LINE_LIMIT
