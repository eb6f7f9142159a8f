"""Health: liveness (`/livez`), readiness (`/readyz`) and the old combined check (`/health`).

`/livez` touches nothing: a 200 says the process serves requests (restart it when it does not).
`/readyz` asks every dependency a request may need, each bounded by READY_CHECK_TIMEOUT and all
at once, so it answers within about that time even when one of them hangs: send traffic to this
instance only on its 200. `/health` is the old check of the broker and the store, kept as it was
for existing monitors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import Flask, Response, current_app
from flask_openapi3 import APIBlueprint, Tag

from api.jsonio import json_response
from api.queue import QueueUnavailable
from api.schemas import HealthResponse, LiveResponse, ReadyResponse
from api.services import Services, get_queue, get_store, services
from tasks.names import PACKAGES_QUEUE

log = logging.getLogger(__name__)

PATHS = ("/health", "/livez", "/readyz")
WATCH_EXTENSION = "dumpus.workers_watch"
# What /health gives the store's ping, as when the client's own server selection took 3 s.
HEALTH_PING_SECONDS = 3.0
# Beyond READY_CHECK_TIMEOUT, what a check may take to hand its answer back.
READY_GRACE_SECONDS = 0.2
# Checks run on these threads. A check stuck past its deadline (a store being opened, say) keeps
# its thread until it returns; later probes then queue behind it and report it down, never more
# than this many threads are held.
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")

bp = APIBlueprint(
    "health", __name__, abp_tags=[Tag(name="health", description="Liveness and readiness")]
)


def _store_ok() -> bool:
    try:
        return bool(get_store().ping(HEALTH_PING_SECONDS))
    except Exception as exc:  # an unopenable store is unreachable too
        log.warning("store unreachable: %s", type(exc).__name__)
        return False


def _broker_ok() -> bool:
    try:
        return bool(get_queue().ping())
    except Exception as exc:  # a broken broker URL is unreachable too
        log.warning("broker unreachable: %s", type(exc).__name__)
        return False


@bp.get("/health", responses={200: HealthResponse, 503: HealthResponse})
def health() -> Response:
    """The old combined check: whether the broker and the store are reachable.

    Request: `GET /health`. Prefer `/livez` and `/readyz`; this route stays for compatibility.
    200 `{"broker": "ok", "store": "ok"}` when both answer;
    503 `{"broker": "unreachable", "store": "ok"}` (either or both `unreachable`) otherwise.
    """
    broker, store = _broker_ok(), _store_ok()
    body = {"broker": "ok" if broker else "unreachable", "store": "ok" if store else "unreachable"}
    return json_response(body, 200 if broker and store else 503)


@bp.get("/livez", responses={200: LiveResponse})
def livez() -> Response:
    """Liveness: the process answers. No dependency is touched.

    Request: `GET /livez`. 200 `{"status": "ok"}`.
    """
    return json_response({"status": "ok"})


def _store_check(found: Services, timeout: float) -> str:
    return "ok" if found.store().ping(timeout) else "unreachable"


def _broker_check(found: Services, timeout: float) -> str:
    return "ok" if found.queue.ping() else "unreachable"


def _ask_workers(found: Services, timeout: float) -> str:
    try:
        return "ok" if found.queue.has_consumer(PACKAGES_QUEUE, timeout) else "none"
    except QueueUnavailable:
        return "unreachable"


class WorkersWatch:
    """Whether a worker consumes the packages queue, asked at most every `REFRESH_SECONDS`.

    Asking is a broadcast to every worker whose replies are awaited for `ASK_SECONDS` (on Redis,
    over a second whatever the timeout): too slow and too noisy for a probe to wait on. So a
    probe never asks itself: an answer younger than `REFRESH_SECONDS` is given as is; an older
    one, while younger than `VALID_SECONDS`, is given while a new one is asked in the
    background; with none usable (a process's first probes, a long silence), the probe waits for
    the question in flight within its own deadline, and says "unreachable" past it. `watch`
    asks once when the app starts, so the first probes find an answer.
    """

    REFRESH_SECONDS = 10.0
    VALID_SECONDS = 300.0
    ASK_SECONDS = 2.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[float, str] | None = None  # (when, answer)
        self._asking: Future[str] | None = None

    def _usable(self, now: float, age_limit: float) -> str | None:
        if self._answer is None or now - self._answer[0] >= age_limit:
            return None
        return self._answer[1]

    def watch(self, found: Services) -> Future[str]:
        """The question in flight, asked now if none is."""
        with self._lock:
            if self._asking is None:
                self._asking = _checks.submit(self._ask, found)
            return self._asking

    def check(self, found: Services, timeout: float) -> str:
        """The answer to give now (see the class)."""
        with self._lock:
            now = self._clock()
            fresh = self._usable(now, self.REFRESH_SECONDS)
            usable = self._usable(now, self.VALID_SECONDS)
        if fresh is not None:
            return fresh
        asking = self.watch(found)
        if usable is not None:
            return usable
        try:
            return asking.result(timeout)
        except Exception:  # not answered within the probe's deadline
            return "unreachable"

    def _ask(self, found: Services) -> str:
        try:
            answer = _ask_workers(found, self.ASK_SECONDS)
            with self._lock:
                self._answer = (self._clock(), answer)
            return answer
        finally:
            with self._lock:
                self._asking = None


def _secret_check(found: Services) -> str:
    try:
        found.server_secret()
    except Exception as exc:  # unset with MONGO_URL, unreadable file: not ready
        log.warning("server secret missing: %s", type(exc).__name__)
        return "missing"
    return "ok"


Check = Callable[[Services, float], str]
DOWN = {"store": "unreachable", "broker": "unreachable", "workers": "unreachable"}


def _bounded_checks() -> dict[str, Check]:
    """The checks of /readyz that may wait on a dependency; the app keeps one WorkersWatch."""
    watch = current_app.extensions[WATCH_EXTENSION]
    return {"store": _store_check, "broker": _broker_check, "workers": watch.check}


def watch_workers(app: Flask, found: Services) -> None:
    """Give the app its WorkersWatch and ask the workers once now, before the first probe."""
    app.extensions[WATCH_EXTENSION] = watch = WorkersWatch()
    watch.watch(found)


def _run_bounded_checks(
    found: Services, timeout: float, checks: dict[str, Check]
) -> dict[str, str]:
    """Every bounded check at once; one not done by the deadline (or failing) is down."""
    futures = {name: _checks.submit(check, found, timeout) for name, check in checks.items()}
    wait(futures.values(), timeout=timeout + READY_GRACE_SECONDS)
    results = {}
    for name, future in futures.items():
        if future.done() and future.exception() is None:
            results[name] = future.result()
        else:
            future.cancel()  # still queued behind a stuck check: never started
            error = future.exception() if future.done() else None
            log.warning(
                "readiness: %s down (%s)", name, type(error).__name__ if error else "timeout"
            )
            results[name] = DOWN[name]
    return results


@bp.get("/readyz", responses={200: ReadyResponse, 503: ReadyResponse})
def readyz() -> Response:
    """Readiness: whether this instance can serve every route now.

    Request: `GET /readyz`. Checks, all at once, each within READY_CHECK_TIMEOUT seconds: the
    store answers a ping; the broker accepts a connection; the server secret is readable
    (SECRET_KEY or SECRET_KEY_FILE: with MONGO_URL there is no generated one); a worker
    consumes the `packages` queue (asked by broadcast at most every 10 seconds, see
    `WorkersWatch`).
    200 `{"store": "ok", "broker": "ok", "secret": "ok", "workers": "ok"}`;
    503 the same with `store`/`broker`/`workers` `unreachable`, `secret` `missing` or
    `workers` `none` (no worker consumes the queue).
    """
    found = services()
    body = _run_bounded_checks(found, found.settings.ready_check_timeout, _bounded_checks())
    body["secret"] = _secret_check(found)
    ready = all(value == "ok" for value in body.values())
    return json_response(body, 200 if ready else 503)
