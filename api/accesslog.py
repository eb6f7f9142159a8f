"""The access log, written by the app: one line per request, the route template, never the path.

A line reads `GET /api/data/<package id>/user/<user_id> 401 2.3ms`: the method, the template of
the Flask rule that matched (`<unmatched>` when none did, `<unparsed>` when gunicorn refused the
request before the app saw it), the status and the time taken. The package id is filled in
(operators need it), and only when it looks like one; every other path parameter stays a
placeholder, and the query string, referer and user agent are never written. A raw request line
would carry the link of the path form (in any encoding) or Discord ids next to a package id, so
gunicorn's access log is off (`api.gunicorn_conf`) and Werkzeug's development-server request lines
are dropped.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, request

log = logging.getLogger("api.access")

UNMATCHED = "<unmatched>"
UNPARSED = "<unparsed>"
PACKAGE_ID_PARAMETER = "<package_id>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")  # `<link:package_link>` -> `<package_link>`
# Werkzeug's development server prefixes its request and error lines this way.
_DEV_SERVER_LINE = re.compile(r"^\S+ - - \[")
_STARTED = "api.access.started"


def write_line(method: str, route: str, status: int, milliseconds: float | None) -> None:
    """Write one access line; a method outside the usual ones is written `OTHER`."""
    duration = "-" if milliseconds is None else f"{milliseconds:.1f}ms"
    shown = method if method in METHODS or method == "-" else "OTHER"
    log.info("%s %s %d %s", shown, route, status, duration)


def route_template() -> str:
    """The matched rule's template with the package id filled in, or `<unmatched>`."""
    if request.url_rule is None:
        return UNMATCHED
    template = _CONVERTER.sub(r"<\1>", request.url_rule.rule)
    package_id = str((request.view_args or {}).get("package_id", "")).lower()
    if _PACKAGE_ID.fullmatch(package_id):
        template = template.replace(PACKAGE_ID_PARAMETER, package_id)
    return template


def _start_clock() -> None:
    request.environ[_STARTED] = time.perf_counter()


def _write_request_line(response: Response) -> Response:
    started = request.environ.get(_STARTED)
    elapsed = None if started is None else (time.perf_counter() - started) * 1000
    write_line(request.method, route_template(), response.status_code, elapsed)
    return response


def _not_a_dev_server_request_line(record: logging.LogRecord) -> bool:
    """False for Werkzeug's development-server lines, which quote the raw request line."""
    return not _DEV_SERVER_LINE.match(str(record.msg))


def init_app(app: Flask) -> None:
    """Time and log every request; call it first so its hook runs before any that may fail."""
    log.setLevel(logging.INFO)  # on by design, whatever the root logger's level
    app.before_request(_start_clock)
    # Runs for answers of error handlers too (404, 405, 413, 500): every request gets its line.
    app.after_request(_write_request_line)
    werkzeug = logging.getLogger("werkzeug")
    if _not_a_dev_server_request_line not in werkzeug.filters:
        werkzeug.addFilter(_not_a_dev_server_request_line)
