"""gunicorn's threaded worker and logger, fitted to the API (used by `api.gunicorn_conf`).

- `JsonErrorWorker`: the requests gunicorn itself refuses (a malformed request line, a line or a
  header too long, a bad chunk...) are answered in the API's error shape,
  `{"error": {"code", "message"}}` as `application/json`, instead of an HTML page that quotes the
  request line; the error log says which refusal and from which address, never the request.
- Its HTTP/1 parser reads request lines up to `REQUEST_LINE_LIMIT` bytes. gunicorn clamps
  `limit_request_line` to 8190 (so 8,190 bytes is the longest line it accepts), and 0 lifts the
  limit entirely (the Python parser then buffers a line of any size; gunicorn_h1c stops at 1 MiB).
  The path form of a link with the longest valid UPN (8,192 characters) is a ~8,270-byte line.
- `QuietAccessLogger`: gunicorn's logger without its access log (the app writes its own, see
  `api.accesslog`); the app's loggers write through gunicorn's error-log handlers, and every
  handler carries `logsafe`'s filter.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from ssl import SSLError

from gunicorn import glogging, util
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

import logsafe
from api.accesslog import UNPARSED, buffer_lines, write_line

# About twice the longest path-form request line (method, `/api/process/`, the encoded link with
# an 8,192-character UPN, version: 8,272 bytes): room for a client that encodes more than it must.
REQUEST_LINE_LIMIT = 16384
INTERNAL_ERROR = (500, "INTERNAL_ERROR", "an unexpected error occurred")

# First match wins: the response-header errors subclass the request-header ones.
REFUSALS = (
    (
        (
            http_errors.InvalidResponseHeader,
            http_errors.InvalidResponseHeaderName,
            http_errors.ConfigurationProblem,
        ),
        INTERNAL_ERROR,
    ),
    (
        (http_errors.LimitRequestLine,),
        (414, "URI_TOO_LONG", f"the request line is longer than {REQUEST_LINE_LIMIT} bytes"),
    ),
    (
        (http_errors.LimitRequestHeaders,),
        (431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "a request header or the headers are too large"),
    ),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
        ),
        (400, "MALFORMED_REQUEST_LINE", "the request line is not valid HTTP/1.1"),
    ),
    (
        (
            http_errors.InvalidHeader,
            http_errors.InvalidHeaderName,
            http_errors.ObsoleteFolding,
            http_errors.InvalidSchemeHeaders,
        ),
        (400, "MALFORMED_HEADER", "a request header is not valid"),
    ),
    (
        (
            http_errors.InvalidChunkSize,
            http_errors.ChunkMissingTerminator,
            http_errors.InvalidChunkExtension,
        ),
        (400, "MALFORMED_BODY", "the chunked request body is not valid"),
    ),
    (
        (http_errors.UnsupportedTransferCoding,),
        (501, "UNSUPPORTED_TRANSFER_CODING", "this transfer coding is not supported"),
    ),
    (
        (http_errors.ExpectationFailed,),
        (417, "EXPECTATION_FAILED", "the expectation cannot be met"),
    ),
    ((http_errors.ForbiddenProxyRequest, SSLError), (403, "FORBIDDEN", "the request is refused")),
    (
        (
            http_errors.InvalidProxyLine,
            http_errors.InvalidProxyHeader,
            http_errors.InvalidH2CPreface,
        ),
        (400, "BAD_REQUEST", "the request is not valid"),
    ),
)


def refusal(exc: BaseException) -> tuple[int, str, str]:
    """The status, code and message answering an exception raised while serving a request."""
    for kinds, answer in REFUSALS:
        if isinstance(exc, kinds):
            return answer
    return INTERNAL_ERROR


def json_error(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response carrying the API's error shape; the connection closes after."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class BoundedRequest(Request):
    """gunicorn's request, its request line allowed up to `REQUEST_LINE_LIMIT` bytes."""

    def parse(self, unreader):
        """Parse with our cap (gunicorn's constructor clamps the configured one to 8190)."""
        self.limit_request_line = REQUEST_LINE_LIMIT
        return super().parse(unreader)


class BoundedRequestParser(RequestParser):
    """The HTTP/1 parser of `BoundedRequest`s."""

    mesg_class = BoundedRequest


class JsonErrorWorker(ThreadWorker):
    """gunicorn's gthread worker answering its own refusals as JSON, with our request-line cap."""

    def init_process(self):
        """Buffer the access lines in this worker (`api.accesslog.BufferedLines`), then run."""
        buffer_lines()
        super().init_process()

    def handle(self, conn):
        """Serve a connection; a plain HTTP/1 one is parsed by `BoundedRequestParser`."""
        # gthread builds its parser in TConn.init() when none is set. TLS and HTTP/2 connections
        # keep gunicorn's own (then limit_request_line bounds their request lines).
        plain = not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(
            self.cfg, conn.client
        )
        if conn.parser is None and plain:
            conn.parser = BoundedRequestParser(self.cfg, conn.sock, conn.client)
        return super().handle(conn)

    def handle_error(self, req, client, addr, exc):
        """Answer in the API's error shape; log the refusal, never the request or the error text."""
        status, code, message = refusal(exc)
        ip = (addr or ("unix socket",))[0]
        if status >= 500:
            # Not gunicorn's line, which quotes the request line; a link in the traceback is
            # rewritten by logsafe's filter on the handlers.
            self.log.error(
                "unexpected %s while handling a request", type(exc).__name__, exc_info=exc
            )
        else:
            self.log.warning("refused a request from ip=%s: %d %s", ip, status, code)
        write_line("-", UNPARSED, status, None)
        try:
            util.write_nonblock(client, json_error(status, code, message))
        except Exception:
            self.log.debug("could not send the %d answer", status)


class QuietAccessLogger(glogging.Logger):
    """gunicorn's logger with no access log; app loggers write through its error handlers."""

    def setup(self, cfg):
        """gunicorn's setup (also run on reload), then route app logs and install the filter."""
        super().setup(cfg)
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_gunicorn", False)]:
            root.removeHandler(handler)  # those of a previous setup, closed by gunicorn
        for handler in self.error_log.handlers:
            root.addHandler(handler)
        logsafe.install()

    def access(self, resp, req, environ, request_time):
        """Never: gunicorn's line would print the raw request line; the app writes its own."""

    @property
    def access_log_enabled(self):
        """False, so gunicorn does not even build access-log data."""
        return False
