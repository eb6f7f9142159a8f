"""A request id on every request: the client's `X-Request-ID` when it is a plain token, else a new
one; echoed in the answer's `X-Request-ID` and carried by every log record made while the request
is served (`logconfig.request_id`), the access line among them.

WSGI middleware around the whole app, so the answers `api.read_path` gives before Flask get one
too. A client's id is kept only when it is 1 to 64 of `[A-Za-z0-9._:-]`: no link, path or
spaces can reach the logs through it.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable

from flask import Flask

import logconfig

HEADER = "X-Request-ID"
_ENVIRON_KEY = "HTTP_X_REQUEST_ID"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _NewIds:
    """32 hex digits: a random prefix drawn once per process (again in a forked child, so
    gunicorn's workers never share one), then a counter; no system call per request."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


new_request_id = _NewIds()


def request_id_of(environ: dict) -> str:
    """The client's request id when it is valid, else a new one (32 hex digits)."""
    given = environ.get(_ENVIRON_KEY, "")
    return given if _VALID.fullmatch(given) else new_request_id()


class RequestIds:
    """Sets the request id for the time the wrapped app handles the request, and echoes it."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        current = request_id_of(environ)

        def start_with_id(status: str, headers: list, exc_info: object = None) -> Callable:
            headers.append((HEADER, current))
            return start_response(status, headers, exc_info)

        token = logconfig.request_id.set(current)
        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            logconfig.request_id.reset(token)


def init_app(app: Flask) -> None:
    """Wrap the app's WSGI callable; call it after every other middleware (it must be outside)."""
    app.wsgi_app = RequestIds(app.wsgi_app)  # type: ignore[method-assign]
