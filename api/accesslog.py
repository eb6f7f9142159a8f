"""The access log, written by the app: one line per request, the route template, never the path.

A line reads `GET /api/data/<package id>/user/<user_id> 401 2.3ms`: the method, the template of
the Flask rule that matched (`<unmatched>` when none did, `<unparsed>` when gunicorn refused the
request before the app saw it), the status and the time taken. The package id is filled in
(operators need it), and only when it looks like one; every other path parameter stays a
placeholder, and the query string, referer and user agent are never written. A raw request line
would carry the link of the path form (in any encoding) or Discord ids next to a package id, so
gunicorn's access log is off (`api.gunicorn_conf`) and Werkzeug's development-server request lines
are dropped.

Each line is an INFO record of the `api.access` logger, written by the process's logging
configuration (`logconfig`: time, level, logger and the request id come with it, in text or JSON);
the same call hands the request to the observers (`observe`), the API's request metrics.

In a gunicorn worker the lines go through `BufferedLines`: the root logger's handlers (and their
filters, logsafe's among them) get them in batches, at most `FLUSH_SECONDS` late, and as the
worker exits. A worker killed outright (SIGKILL, OOM) loses its last `FLUSH_SECONDS` of lines.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable

from flask import Flask, Response, request

log = logging.getLogger("api.access")

UNMATCHED = "<unmatched>"
UNPARSED = "<unparsed>"
PACKAGE_ID_PARAMETER = "<package_id>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
# A filled-in package id: a whole path segment of 32 hex digits (no rule has such a literal).
_FILLED_PACKAGE_ID = re.compile(r"(?<=/)[0-9a-f]{32}(?=/|$)")
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")  # `<link:package_link>` -> `<package_link>`
# Werkzeug's development server prefixes its request and error lines this way.
_DEV_SERVER_LINE = re.compile(r"^\S+ - - \[")
_STARTED = "api.access.started"
_LINE = "%s %s %d %s"
FLUSH_SECONDS = 0.2  # how long an access line may wait in a gunicorn worker
MAX_BUFFERED = 10_000  # a request that finds this many lines waiting writes them itself


# Called with each request's method (as shown), filled template, status and milliseconds: the
# API's request metrics (`api.metrics`). A process has one set, whatever the number of apps.
Observer = Callable[[str, str, int, "float | None"], None]
_observers: list[Observer] = []


def observe(observer: Observer) -> None:
    """Call `observer` for every access line from now on (once, however often it is added)."""
    if observer not in _observers:
        _observers.append(observer)


def write_line(method: str, route: str, status: int, milliseconds: float | None) -> None:
    """Write one access line; a method outside the usual ones is written `OTHER`.

    The line is an INFO record of `api.access` made by the logging configuration of the process
    (`logconfig`): time, level and the request id come with it.
    """
    shown = method if method in METHODS or method == "-" else "OTHER"
    if _observers:
        template = unfilled(route)  # observers get the template, package id as a placeholder
        for observer in _observers:
            observer(shown, template, status, milliseconds)
    if not log.isEnabledFor(logging.INFO):
        return
    duration = "-" if milliseconds is None else f"{milliseconds:.1f}ms"
    # makeRecord, not info(): info() first walks the stack for a file and line no format shows.
    args = (shown, route, status, duration)
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, _LINE, args, None))


class BufferedLines(logging.Handler):
    """Access records written to the root logger's handlers in batches, by a flusher thread.

    One write per handler and batch instead of one per request: in a gthread worker each write
    (its handler lock held across the syscall) handed the GIL to another thread and cost several
    times the line itself. Lines wait at most `seconds`; a worker killed outright loses those.
    """

    def __init__(self, seconds: float = FLUSH_SECONDS) -> None:
        super().__init__()
        self.seconds = seconds
        self._records: collections.deque[logging.LogRecord] = collections.deque()
        self._pid: int | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        """Queue the record; filters (logsafe's among them) run on the target handlers."""
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record, starting this process's flusher on first use."""
        self._records.append(record)
        if self._pid != os.getpid():
            self._start()
        if len(self._records) >= MAX_BUFFERED:  # the flusher is behind (a slow stream): wait too
            self.flush()

    def flush(self) -> None:
        """Write every queued record now (also called by `logging.shutdown` at exit)."""
        records = []
        while self._records:
            records.append(self._records.popleft())
        if records:
            write_batch(records)

    def _start(self) -> None:
        self._pid = os.getpid()
        threading.Thread(target=self._run, name="access-log", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.seconds)
            try:
                self.flush()
            except Exception:  # a broken handler must not stop the flusher; try the next batch
                continue


def write_batch(records: list[logging.LogRecord]) -> None:
    """Hand records to the root logger's handlers, one write per stream handler."""
    for handler in logging.getLogger().handlers:
        chosen = [r for r in records if r.levelno >= handler.level and handler.filter(r)]
        stream = getattr(handler, "stream", None)
        if not chosen:
            continue
        if not isinstance(handler, logging.StreamHandler) or stream is None:
            for record in chosen:
                handler.handle(record)
            continue
        try:
            text = "".join(handler.format(r) + handler.terminator for r in chosen)
            handler.acquire()
            try:
                stream.write(text)
                handler.flush()
            finally:
                handler.release()
        except Exception:
            handler.handleError(chosen[0])


def buffer_lines(seconds: float = FLUSH_SECONDS) -> None:
    """Route access lines through a `BufferedLines` (gunicorn workers; tests keep them direct)."""
    if not any(isinstance(h, BufferedLines) for h in log.handlers):
        log.addHandler(BufferedLines(seconds))
    log.propagate = False


def flush_lines() -> None:
    """Write the buffered access lines now (a worker about to exit)."""
    for handler in log.handlers:
        handler.flush()


@functools.lru_cache(maxsize=1024)  # one entry per rule of the app
def _template(rule: str) -> str:
    return _CONVERTER.sub(r"<\1>", rule)


def route_template() -> str:
    """The matched rule's template with the package id filled in, or `<unmatched>`."""
    # One context lookup, not one per attribute (a LocalProxy method the stubs do not show).
    current = request._get_current_object()  # type: ignore[attr-defined]
    if current.url_rule is None:
        return UNMATCHED
    return filled_template(current.url_rule.rule, (current.view_args or {}).get("package_id"))


def filled_template(rule: str, package_id: object = None) -> str:
    """A rule's template with the package id filled in when it looks like one."""
    template = _template(rule)
    package_id = str(package_id or "").lower()
    if _PACKAGE_ID.fullmatch(package_id):
        template = template.replace(PACKAGE_ID_PARAMETER, package_id)
    return template


def unfilled(route: str) -> str:
    """A written route with its package id back to `<package_id>` (the inverse of the fill)."""
    return _FILLED_PACKAGE_ID.sub(PACKAGE_ID_PARAMETER, route)


def _start_clock() -> None:
    request.environ[_STARTED] = time.perf_counter()


def _write_request_line(response: Response) -> Response:
    current = request._get_current_object()  # type: ignore[attr-defined]
    started = current.environ.get(_STARTED)
    elapsed = None if started is None else (time.perf_counter() - started) * 1000
    write_line(current.method, route_template(), response.status_code, elapsed)
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
