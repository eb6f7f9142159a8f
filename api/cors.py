"""CORS for the Dumpus app's routes (flask-cors), and the two things its requests need first.

- Every answer under `/dumpus/` (errors included) carries CORS headers for the app's origins
  (`CORS_ORIGINS`); the signed downloads allow any origin (`*`, never with credentials): the app
  fetches them with no header, and the URL itself is the authorisation.
- A preflight (`OPTIONS` of any path under `/dumpus/`) is answered before the rate limits: it
  costs nothing and must never be refused.
- A base URL typed with a trailing slash makes the app call `/dumpus//process`: repeated
  slashes under `/dumpus/` are merged before routing (no redirect, which a preflight cannot
  follow).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from flask import Flask, Response, current_app, request
from flask_cors import CORS

from settings import Settings

APP_PREFIX = "/dumpus"
DOWNLOAD_PREFIX = f"{APP_PREFIX}/blob"
METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
ALLOWED_HEADERS = ["Authorization", "Content-Type"]
PREFLIGHT_MAX_AGE = 600
_SLASHES = re.compile(r"/{2,}")


def init_app(app: Flask, settings: Settings) -> None:
    """Attach CORS to the app's routes; call it before the rate limiter's `init_app`."""
    CORS(
        app,
        resources={
            rf"{DOWNLOAD_PREFIX}/.*": {"origins": "*", "send_wildcard": True, "methods": ["GET"]},
            rf"{APP_PREFIX}/.*": {
                "origins": list(settings.cors_origins),
                "methods": METHODS,
                "allow_headers": ALLOWED_HEADERS,
                "max_age": PREFLIGHT_MAX_AGE,
            },
        },
        supports_credentials=False,
    )
    app.before_request(_answer_preflight)
    # Flask's documented way to wrap the app in WSGI middleware; mypy sees a method replaced
    app.wsgi_app = MergedSlashes(app.wsgi_app, APP_PREFIX)  # type: ignore[method-assign]


def _answer_preflight() -> Response | None:
    """The OPTIONS answer of any path under the app's prefix, before any later hook runs.

    A path that matches no route is answered too (the app asks `/user/` with an empty id
    while a page renders): a failed preflight is a CORS error in the browser, while the request
    itself then gets its JSON 404, which the app understands.
    """
    if request.method != "OPTIONS" or not request.path.startswith(f"{APP_PREFIX}/"):
        return None
    if request.url_rule is None:
        return current_app.response_class(status=200, headers={"Allow": ", ".join(METHODS)})
    return current_app.make_default_options_response()


class MergedSlashes:
    """WSGI middleware: `//` runs in paths under `prefix/` become one slash."""

    def __init__(self, wsgi_app: Callable, prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.prefix + "/") and "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return self.wsgi_app(environ, start_response)
