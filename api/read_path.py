"""The hot data reads answered before Flask when all goes well (WSGI middleware).

`GET /api/data/<package_id>/overview`, `/about` and `/stats/<period>` answer a whole view: one
indexed read, one decryption, the JSON text as it was sealed. Through Flask, the request context,
routing, flask-openapi3's validation and five hooks cost more than that work (profiled: about
two thirds of such a request in a gunicorn worker), so `ReadPath` serves these routes itself
with the same steps, in the same order, from the same functions:

1. the read budget (`FamilyLimits.count`, the shared counters), counted once per request;
2. ownership (`api.auth.owner_token`, as `require_owner`);
3. `api.data.owned_package`: key (`storage.key_cache`), `get_current`, status, AES-GCM open;
4. the access line (`api.accesslog`), then `200 application/json` with the view's text.

A store outage (`storage.errors.is_store_unavailable`) is answered here too, exactly as Flask
would answer it (503 STORE_UNAVAILABLE with `Retry-After`): asking a store that is down a second
time through Flask would only double the wait.

Anything else is left to Flask, which then answers exactly as it always does: another method or
path, a body, a refusal by the limits (marked in the environ, so Flask answers 429 without
counting again), no or a wrong bearer, an unknown, unprocessed or tampered package, any error.
Which Flask endpoints are served here, and the view each one answers, is `WHOLE_VIEWS`; their
paths are read from the app's own rules.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

import orjson
from flask import Flask

from api import accesslog, ratelimit
from api.auth import owner_token
from api.data import owned_package
from api.errors import store_unavailable_body
from api.schemas import PERIODS
from api.services import EXTENSION, Services
from storage.errors import is_store_unavailable

# Flask endpoint -> the view it answers whole (`{period}` from the path).
WHOLE_VIEWS = {
    "data.about": "about",
    "data.overview": "overview",
    "data.period_stats": "stats:{period}",
}
# What each path parameter of those rules may be here (anything else goes to Flask).
PARAMETERS = {
    "package_id": "[0-9a-f]{32}",
    "period": "|".join(re.escape(p) for p in PERIODS),
}
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")
HEADERS = "Content-Type", "Content-Length"
OK = "200 OK"
STORE_UNAVAILABLE = "503 SERVICE UNAVAILABLE"
Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body


def rule_pattern(rule: str) -> str:
    """A Werkzeug rule as a regex with one named group per parameter (`PARAMETERS`)."""
    parts, end = [], 0
    for found in _PARAMETER.finditer(rule):
        parts += [re.escape(rule[end : found.start()])]
        parts += [f"(?P<{found.group(1)}>{PARAMETERS[found.group(1)]})"]
        end = found.end()
    return "".join([*parts, re.escape(rule[end:])])


class ReadPath:
    """WSGI middleware serving `WHOLE_VIEWS` of `app`; everything else goes to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app
        self.services: Services = app.extensions[EXTENSION]
        self.limits: ratelimit.FamilyLimits = app.extensions[ratelimit.EXTENSION]
        routes = [r for r in app.url_map.iter_rules() if r.endpoint in WHOLE_VIEWS]
        if {r.endpoint for r in routes} != set(WHOLE_VIEWS):
            raise RuntimeError("api.read_path: an endpoint of WHOLE_VIEWS has no rule")
        # (path pattern, rule, view name) of each served route
        self._routes = [
            (re.compile(rule_pattern(r.rule)), r.rule, WHOLE_VIEWS[r.endpoint]) for r in routes
        ]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and _no_body(environ):
            answer = self._answer(environ)
            if answer is not None:
                status, headers, body = answer
                start_response(status, [(HEADERS[0], "application/json"), *headers])
                return [body]
        return self.wsgi_app(environ, start_response)

    def _match(self, path: str) -> tuple[str, str, dict[str, str]] | None:
        for pattern, rule, view in self._routes:
            found = pattern.fullmatch(path)
            if found is not None:
                return rule, view, found.groupdict()
        return None

    def _answer(self, environ: dict) -> Answer | None:
        """The status, headers (but Content-Type) and body of a 200 or a 503 STORE_UNAVAILABLE,
        or None to let Flask answer."""
        matched = self._match(environ.get("PATH_INFO", ""))
        if matched is None:
            return None
        started = time.perf_counter()
        rule, view, parameters = matched
        package_id = parameters["package_id"]
        try:
            self.limits.count(ratelimit.READ, environ.get("REMOTE_ADDR") or "unknown")
        except ratelimit.RateLimited as refusal:
            environ[ratelimit.COUNTED] = refusal
            return None
        except Exception:  # never raised by the counters (they fall back to memory): Flask's
            return None
        environ[ratelimit.COUNTED] = None
        try:
            body = self._read(environ, package_id, view.format(**parameters))
        except Exception as exc:  # 404, 409, a blob that does not open: Flask's answer
            if not is_store_unavailable(exc):
                return None
            unavailable = store_unavailable_answer(self.services)
            return self._answered(rule, package_id, started, STORE_UNAVAILABLE, unavailable)
        if body is None:
            return None
        return self._answered(rule, package_id, started, OK, ([], body))

    def _answered(
        self,
        rule: str,
        package_id: str,
        started: float,
        status: str,
        answer: tuple[list[tuple[str, str]], bytes],
    ) -> Answer:
        """The access line written, the answer with its Content-Length."""
        headers, body = answer
        milliseconds = (time.perf_counter() - started) * 1000
        code = int(status.split(" ", 1)[0])
        accesslog.write_line("GET", accesslog.filled_template(rule, package_id), code, milliseconds)
        return status, [*headers, (HEADERS[1], str(len(body)))], body

    def _read(self, environ: dict, package_id: str, view_name: str) -> bytes | None:
        """The view's JSON text for the package's owner; None for anyone else."""
        found = self.services
        header = environ.get("HTTP_AUTHORIZATION", "")
        upn = owner_token(header, package_id, found.server_secret())
        if upn is None:
            return None
        return owned_package(found, package_id, upn, view_name).read_json(view_name)


def store_unavailable_answer(services: Services) -> tuple[list[tuple[str, str]], bytes]:
    """The headers and body of Flask's 503 STORE_UNAVAILABLE on a route that is not a
    process route."""
    retry_after = str(services.settings.store_retry_after)
    return [("Retry-After", retry_after)], orjson.dumps(store_unavailable_body(False))


def _no_body(environ: dict) -> bool:
    return not environ.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in environ


def init_app(app: Flask) -> None:
    """Serve `WHOLE_VIEWS` before Flask; call it last (it needs the limits and the routes)."""
    app.wsgi_app = ReadPath(app, app.wsgi_app)  # type: ignore[method-assign]
