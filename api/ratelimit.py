"""Rate limits per client address: one budget for submissions, one for reads.

`POST /api/process` (both forms) and `POST /api/auth` share `settings.rate_limit_submit`; the
status, DELETE, data and account routes share `settings.rate_limit_read`. Health and the
documentation are never limited. The key is `request.remote_addr`: the socket peer, or the client
a proxy of `TRUSTED_PROXIES` names (`api.proxies`); behind a proxy that is not listed, every
client shares the proxy's budget.

Counters live in `RATELIMIT_STORAGE_URI` (Flask config) when given, else in the storage chosen by
`storage_uri(settings)`, and are counted by `api.ratelimit_counter` (the `limits` library's fixed
windows, one round trip a hit). A limiter storage that does not answer never makes a request
fail: the limits fall back to per-process memory until it answers again. One `before_request`
hook does it all; Flask-Limiter's per-request resolution of which limits apply cost more than the
rest of a data read.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, request
from limits import RateLimitItem, parse_many

from api.errors import PROCESS_ENDPOINTS, error_response, process_refusal
from api.ratelimit_counter import WindowCounter
from settings import Settings

log = logging.getLogger(__name__)

RATE_LIMITED = "RATE_LIMITED"
STORAGE_URI = "RATELIMIT_STORAGE_URI"
STORAGE_OPTIONS = "RATELIMIT_STORAGE_OPTIONS"
EXTENSION = "ratelimit"
# Set by `api.read_path` once it counted a request: None (admitted) or its RateLimited.
COUNTED = "dumpus.ratelimit.counted"
KEY_PREFIX = "dumpus"
SUBMIT = "submit"
READ = "read"
READ_ENDPOINTS = ("process.package_status", "process.delete_package")
# the Dumpus app's routes (its POST: PROCESS_ENDPOINTS) and the account routes
READ_BLUEPRINTS = ("data", "dumpus_app", "admin")
# trading an API key for a token counts as a submission: a guessing client meets a low budget
SUBMIT_ENDPOINTS = (*PROCESS_ENDPOINTS, "identity.authenticate", "uploads.upload_package")
# A limiter storage that hangs must not hold a request for long.
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}


class RateLimited(Exception):
    """A request over one of its family's limits."""

    def __init__(self, item: RateLimitItem, key: str) -> None:
        super().__init__(str(item))
        self.item = item
        self.key = key


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
    """The rate-limit key: the client address (`api.proxies` has set it behind a trusted proxy)."""
    return request.remote_addr or "unknown"


def counter_key_parts(item: RateLimitItem, family: str) -> tuple[str, str]:
    """What comes before and after the client address in `item.key_for(KEY_PREFIX, address,
    family)`: the counter key is then one f-string per request."""
    marker = "\x00"
    head, _, tail = item.key_for(KEY_PREFIX, marker, family).partition(marker)
    return head, tail


def route_family() -> str | None:
    """`submit`, `read`, or None for routes that are never limited."""
    # One context lookup, not one per attribute (a LocalProxy method the stubs do not show).
    current = request._get_current_object()  # type: ignore[attr-defined]
    endpoint = current.endpoint
    if endpoint in SUBMIT_ENDPOINTS:
        return SUBMIT
    if endpoint in READ_ENDPOINTS or current.blueprint in READ_BLUEPRINTS:
        return READ
    return None


class FamilyLimits:
    """The budgets of the route families, per client address, each shared by its routes."""

    def __init__(self, counter: WindowCounter, budgets: dict[str, str]) -> None:
        self.counter = counter
        # Shortest window first; the first breached limit answers (as Flask-Limiter did).
        self.budgets = {
            family: [
                (item, *counter_key_parts(item, family))
                for item in sorted(parse_many(limits), key=lambda item: item.get_expiry())
            ]
            for family, limits in budgets.items()
        }

    def check(self) -> None:
        """Count this request against its family's limits; raise RateLimited over one.

        A request `api.read_path` already counted is not counted again (its refusal, if it was
        refused, is raised here so the answer is the usual 429).
        """
        environ = request.environ
        if COUNTED in environ:
            refusal = environ[COUNTED]
            if refusal is not None:
                raise refusal
            return
        family = route_family()
        if family is None:
            return
        self.count(family, client_address())

    def count(self, family: str, address: str) -> None:
        """Count one request of `family` from `address`; raise RateLimited over a limit."""
        for item, head, tail in self.budgets[family]:
            key = f"{head}{address}{tail}"
            if not self.counter.hit(item, key):
                # The limit, the budget and the address: never the path, which may be a link.
                log.info("rate limit %s of the %s budget exceeded by %s", item, family, address)
                raise RateLimited(item, key)

    def retry_after_seconds(self, exc: RateLimited) -> int:
        """Seconds until the breached window resets (its full length if the storage cannot tell)."""
        try:
            return max(1, math.ceil(self.counter.reset_time(exc.key) - time.time()))
        except Exception as error:  # the storage went away between the hit and this answer
            log.warning("rate limit window unknown: %s", type(error).__name__)
        return max(1, int(exc.item.get_expiry()))

    def too_many_requests(self, exc: RateLimited) -> Response:
        """The 429 answer in the shape of the route."""
        seconds = self.retry_after_seconds(exc)
        headers = {"Retry-After": str(seconds)}
        if request.endpoint in PROCESS_ENDPOINTS:
            return process_refusal(429, RATE_LIMITED, headers)
        message = f"too many requests from this address; retry in {seconds} seconds"
        return error_response(429, RATE_LIMITED, message, headers)


def init_app(app: Flask, settings: Settings) -> FamilyLimits:
    """Attach the two family budgets and the 429 answer to the app."""
    uri = app.config.setdefault(STORAGE_URI, storage_uri(settings))
    if uri.startswith(("redis", "valkey")):
        app.config.setdefault(STORAGE_OPTIONS, dict(REDIS_OPTIONS))
    counter = WindowCounter(uri, **app.config.get(STORAGE_OPTIONS, {}))
    limits = FamilyLimits(
        counter, {SUBMIT: settings.rate_limit_submit, READ: settings.rate_limit_read}
    )
    app.extensions[EXTENSION] = limits
    app.before_request(limits.check)
    app.register_error_handler(RateLimited, limits.too_many_requests)
    return limits
