"""`POST /api/event` answered before Flask when all goes well (WSGI middleware).

A single event is a small body, a token, two indexed reads and one insert; through Flask the
request context, routing, flask-openapi3's validation and the hooks cost as much again
(profiled in a gunicorn worker: Flask's share of such a request, the route's own work aside,
was about a quarter of the process's CPU). `EventPath` answers it with the same steps, in the
same order, from the same functions:

1. the body: `application/json` with a `Content-Length` within the app's `MAX_CONTENT_LENGTH`,
   one JSON object that `api.events.item_fault` (`EventBody`'s rules) accepts;
2. the store of the bearer token (`api.identity.storefront_of`, as `require_storefront`);
3. `api.events.record_event`: the data's size, the shopper known to the store, the insert;
4. the access line (`api.accesslog`, the audit log filing the call under the store's
   organization, as Flask's answer would), then `201 application/json`.

A store outage (`storage.errors.is_store_unavailable`) is answered here as Flask answers it
(503 STORE_UNAVAILABLE with `Retry-After`). Anything else goes to Flask, with the body it was
sent, and Flask answers exactly as it always does: another method, path or media type, a
chunked or larger body, a body that does not pass, no or a bad token, a blocked store, an
unknown shopper, data too large, any error. The event routes have no rate limit (see
`api.ratelimit`), so there is none to count here.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable

import orjson
from flask import Flask, g

from api import accesslog
from api.events import event_json, item_fault, record_event
from api.identity import storefront_of
from api.read_path import HEADERS, STORE_UNAVAILABLE, Answer, store_unavailable_answer
from api.services import EXTENSION, Services
from storage.errors import is_store_unavailable

ENDPOINT = "events.create_event"
CREATED = "201 CREATED"
JSON = "application/json"


class EventPath:
    """WSGI middleware serving `POST /api/event` of `app`; everything else goes to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.services: Services = app.extensions[EXTENSION]
        rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == ENDPOINT]
        if len(rules) != 1:
            raise RuntimeError(f"api.event_path: {ENDPOINT} has {len(rules)} rules, not one")
        self.rule = rules[0]
        self.largest_body = int(app.config["MAX_CONTENT_LENGTH"])

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self.rule:
            answer = self._answer(environ)
            if answer is not None:
                status, headers, body = answer
                start_response(status, [(HEADERS[0], JSON), *headers])
                return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict) -> Answer | None:
        """The status, headers (but Content-Type) and body of a 201 or a 503
        STORE_UNAVAILABLE, or None to let Flask answer."""
        started = time.perf_counter()
        item = self._event(environ)
        if item is None:
            return None
        with self.app.app_context():
            try:
                storefront = storefront_of(environ.get("HTTP_AUTHORIZATION", ""))
                g.storefront = storefront  # the audit log files the call under its organization
                data = item.get("data", {})
                event = record_event(storefront.id, item["type"], item["user_id"], data)
            except Exception as exc:  # a 401, 403, 404, 400 or an error: Flask's answer
                if not is_store_unavailable(exc):
                    return None
                unavailable = store_unavailable_answer(self.services)
                return self._answered(started, STORE_UNAVAILABLE, unavailable)
            return self._answered(started, CREATED, ([], orjson.dumps(event_json(event, data))))

    def _event(self, environ: dict) -> dict | None:
        """The body's event when it passes `EventBody`'s checks; else None. The body read is
        put back for Flask."""
        length = _content_length(environ)
        if length is None or length > self.largest_body or not _is_json(environ):
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            item = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return item if item_fault(item) is None else None

    def _answered(
        self, started: float, status: str, answer: tuple[list[tuple[str, str]], bytes]
    ) -> Answer:
        """The access line written (in the app context: the audit log reads `g`), the answer
        with its Content-Length."""
        headers, body = answer
        milliseconds = (time.perf_counter() - started) * 1000
        code = int(status.split(" ", 1)[0])
        accesslog.write_line("POST", accesslog.filled_template(self.rule), code, milliseconds)
        return status, [*headers, (HEADERS[1], str(len(body)))], body


def _content_length(environ: dict) -> int | None:
    """The declared length of a body sent whole (not chunked); None when there is none."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        return None
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _is_json(environ: dict) -> bool:
    return environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() == JSON


def init_app(app: Flask) -> None:
    """Serve `POST /api/event` before Flask; call it after the routes are registered."""
    app.wsgi_app = EventPath(app, app.wsgi_app)  # type: ignore[method-assign]
