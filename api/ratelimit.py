"""Rate limits per client address: one budget for submissions, one for reads (Flask-Limiter).

`POST /api/process` (both forms) share `settings.rate_limit_submit`; the status, DELETE and data
routes share `settings.rate_limit_read`. Health and the documentation are never limited. The key
is `request.remote_addr`: behind a reverse proxy the operator wraps the app in Werkzeug's
`ProxyFix` with the number of trusted hops, or every client shares the proxy's budget.

Counters live in `RATELIMIT_STORAGE_URI` (Flask config) when given, else in the storage chosen by
`storage_uri(settings)`. A limiter storage that does not answer never makes a request fail: the
limits fall back to per-process memory (`in_memory_fallback_enabled`) and any other limiter error
is logged and swallowed (`swallow_errors`).
"""

from __future__ import annotations

import logging
import math
import time
from functools import partial

from flask import Flask, Response, request
from flask_limiter import Limit, Limiter, RateLimitExceeded

from api.errors import PROCESS_ENDPOINTS, error_response, process_refusal
from settings import Settings

log = logging.getLogger(__name__)

RATE_LIMITED = "RATE_LIMITED"
STORAGE_URI = "RATELIMIT_STORAGE_URI"
SUBMIT = "submit"
READ = "read"
READ_ENDPOINTS = ("process.package_status", "process.delete_package")
READ_BLUEPRINTS = ("data",)
# A limiter storage that hangs must not hold a request for long.
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}


def storage_uri(settings: Settings) -> str:
    """Where counters live: the configured URL, else the Redis broker, else process memory.

    An empty broker URL means the embedded Redis on its Unix socket (`redis+unix:///path`, the
    `limits` scheme); an AMQP broker has no Redis to share, so each process counts alone.
    """
    if settings.rate_limit_storage_url:
        return settings.rate_limit_storage_url
    broker = settings.broker_url
    if broker.startswith(("redis://", "rediss://")):
        return broker
    if broker.startswith("redis+socket://"):  # kombu's spelling of a Unix socket
        return "redis+unix://" + broker.removeprefix("redis+socket://")
    if not broker:
        return f"redis+unix://{settings.embedded_broker_socket.resolve()}"
    return "memory://"


def client_address() -> str:
    """The rate-limit key: the client address as the WSGI server (or ProxyFix) reports it."""
    return request.remote_addr or "unknown"


def route_family() -> str | None:
    """`submit`, `read`, or None for routes that are never limited."""
    if request.endpoint in PROCESS_ENDPOINTS:
        return SUBMIT
    if request.endpoint in READ_ENDPOINTS or request.blueprint in READ_BLUEPRINTS:
        return READ
    return None


def _family_limit(limit: str, family: str) -> Limit:
    """One budget shared by every route of a family, per client address."""
    return Limit(
        limit,
        scope=family,
        shared=True,
        exempt_when=lambda: route_family() != family,
    )


def retry_after_seconds(limiter: Limiter, exc: RateLimitExceeded) -> int:
    """Seconds until the breached window resets (its full length if the storage cannot tell)."""
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.window.reset_time - time.time()))
    except Exception as error:  # the storage went away between the hit and this answer
        log.warning("rate limit window unknown: %s", type(error).__name__)
    return max(1, int(exc.limit.limit.get_expiry()))


def _too_many_requests(limiter: Limiter, exc: RateLimitExceeded) -> Response:
    seconds = retry_after_seconds(limiter, exc)
    headers = {"Retry-After": str(seconds)}
    if request.endpoint in PROCESS_ENDPOINTS:
        return process_refusal(429, RATE_LIMITED, headers)
    message = f"too many requests from this address; retry in {seconds} seconds"
    return error_response(429, RATE_LIMITED, message, headers)


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Attach a limiter with the two family budgets and the 429 answer to the app."""
    uri = app.config.setdefault(STORAGE_URI, storage_uri(settings))
    if uri.startswith(("redis", "valkey")):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", dict(REDIS_OPTIONS))
    limiter = Limiter(
        client_address,
        default_limits=[
            _family_limit(settings.rate_limit_submit, SUBMIT),
            _family_limit(settings.rate_limit_read, READ),
        ],
        strategy="fixed-window",
        key_prefix="dumpus",
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, partial(_too_many_requests, limiter))
    return limiter
