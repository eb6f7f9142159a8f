"""`GET /metrics`: the API's figures in Prometheus' text format.

- `dumpus_http_requests_total{method, route, status}` and
  `dumpus_http_request_duration_seconds{method, route}` (a histogram): every request that gets an
  access line (`api.accesslog`), by route template, the package id left as `<package_id>`, so no
  id or link is ever a label. `/metrics` itself is not counted (a scraper's own traffic is not the
  API's). Under gunicorn each worker writes its figures to files in `PROMETHEUS_MULTIPROC_DIR`
  (`api.gunicorn_conf`) and a scrape, answered by any worker, sums them all. Requests are added
  in batches, at most `FLUSH_SECONDS` late (`PendingRequests`).
- `dumpus_packages{status}`, `dumpus_packages_errored{error_code}` and `dumpus_store_up`: counted
  in the store at scrape time.
- `dumpus_queue_messages{queue}` and `dumpus_broker_up`: messages waiting in the `packages` and
  `default` queues, asked of the broker at scrape time (`PackageQueue.depths`).

A store or broker that fails or does not answer within a couple of seconds leaves its figures
out and its `_up` gauge at 0: the scrape itself always succeeds. With `METRICS_TOKEN` set, a
scrape needs `Authorization: Bearer <token>`; `METRICS_ENABLED=0` removes the route. The route
has no rate limit and stays out of the OpenAPI document (it is for operators' scrapers).
"""

from __future__ import annotations

import collections
import functools
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api import accesslog
from api.auth import parse_bearer
from api.errors import error_response
from api.services import get_queue, get_settings, get_store
from tasks import names

if TYPE_CHECKING:
    from storage.base import Store

log = logging.getLogger(__name__)

PATH = "/metrics"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
QUEUES = (names.PACKAGES_QUEUE, names.DEFAULT_QUEUE)
BROKER_TIMEOUT_SECONDS = 2.0
# From a cached read (~1 ms) to a slow package submission.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Not registered anywhere: each scrape builds its registry (`scrape`).
REQUESTS = Counter(
    "dumpus_http_requests",
    "Requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=None,
)
LATENCY = Histogram(
    "dumpus_http_request_duration_seconds",
    "Time taken to answer a request, by method and route template.",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
    registry=None,
)

bp = Blueprint("metrics", __name__)


Observation = tuple[str, str, int, "float | None"]  # method, route template, status, ms
FLUSH_SECONDS = 0.5  # how late a request may reach the figures of a scrape by another worker


class PendingRequests:
    """Requests waiting to be added to the figures: a request pays a deque append, and a flusher
    thread adds them up (one counter increment per label set and batch) every `FLUSH_SECONDS`.

    Prometheus' values live in shared files under gunicorn, each write under a lock: counted one
    request at a time they cost a whole-view read about 27,000 instructions (7 %, callgrind).
    A scrape flushes its own process first, and a gunicorn worker flushes as it exits; a request
    answered by another worker shows up to `FLUSH_SECONDS` late.
    """

    def __init__(self) -> None:
        self._pending: collections.deque[Observation] = collections.deque()
        self._flusher_pid: int | None = None
        self._lock = threading.Lock()  # one flush at a time (the thread, a scrape, an exit)

    def add(self, method: str, route: str, status: int, milliseconds: float | None) -> None:
        """Queue one request (an `api.accesslog` observer); `/metrics` itself is not counted."""
        if route == PATH:
            return
        self._pending.append((method, route, status, milliseconds))
        if self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_forever, name="metrics", daemon=True).start()

    def flush(self) -> None:
        """Add every queued request to the figures now."""
        with self._lock:
            batch = [self._pending.popleft() for _ in range(len(self._pending))]
            try:
                _count(batch)
            except Exception as exc:  # a full disk under the multiprocess files: drop the batch
                log.debug("%d requests not counted: %s", len(batch), type(exc).__name__)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


def _count(batch: list[Observation]) -> None:
    per_series = collections.Counter((method, route, status) for method, route, status, _ in batch)
    for (method, route, status), requests in per_series.items():
        _series(method, route, status)[0].inc(requests)
    for method, route, status, milliseconds in batch:
        if milliseconds is not None:
            _series(method, route, status)[1].observe(milliseconds / 1000)


pending_requests = PendingRequests()


@functools.lru_cache(maxsize=4096)  # routes x methods x statuses: a few hundred in practice
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one label set, looked up once."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


def multiprocess_dir() -> str | None:
    """The directory where every worker writes its figures (gunicorn), or None (one process)."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def store_figures(store_of: Callable[[], Store]) -> list[Metric]:
    """Packages by status and ERRORED ones by error code, plus `dumpus_store_up`."""
    up = GaugeMetricFamily("dumpus_store_up", "1 when the store answered this scrape's counts.")
    try:
        packages = store_of().packages
        by_status, by_code = packages.count_by_status(), packages.count_by_error_code()
    except Exception as exc:  # unreachable, slow or unopenable: the figures are left out
        log.warning("metrics: store counts unavailable: %s", type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    statuses = GaugeMetricFamily("dumpus_packages", "Packages by status.", labels=["status"])
    for status, count in by_status.items():
        statuses.add_metric([str(status)], count)
    errored = GaugeMetricFamily(
        "dumpus_packages_errored", "ERRORED packages by error code.", labels=["error_code"]
    )
    for code, count in sorted(by_code.items()):
        errored.add_metric([code], count)
    up.add_metric([], 1)
    return [statuses, errored, up]


def queue_figures(queue: object) -> list[Metric]:
    """Messages waiting in each queue, plus `dumpus_broker_up`."""
    up = GaugeMetricFamily("dumpus_broker_up", "1 when the broker answered this scrape's depths.")
    try:
        depths = queue.depths(QUEUES, BROKER_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
    except Exception as exc:  # unreachable or slow broker, or a queue that cannot tell
        log.warning("metrics: queue depths unavailable: %s", type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    waiting = GaugeMetricFamily(
        "dumpus_queue_messages", "Messages waiting in a broker queue.", labels=["queue"]
    )
    for name, count in depths.items():
        waiting.add_metric([name], count)
    up.add_metric([], 1)
    return [waiting, up]


class Figures(Collector):
    """Metric families computed before the scrape, handed to a registry."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        """The families, as computed."""
        return self.families


def scrape(live: Iterable[Metric]) -> bytes:
    """The text exposition: request figures (of every worker, under gunicorn) and `live` ones."""
    pending_requests.flush()
    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(Figures(live))
    return generate_latest(registry)


def _token_accepted(expected: str) -> bool:
    given = parse_bearer(request.headers.get("Authorization", "")) or ""
    return hmac.compare_digest(given.encode(), expected.encode())


@bp.get(PATH)
def metrics() -> Response:
    """The figures; 401 without the bearer token when METRICS_TOKEN is set."""
    token = get_settings().metrics_token
    if token and not _token_accepted(token):
        message = "a valid 'Authorization: Bearer <METRICS_TOKEN>' is required"
        challenge = {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return error_response(401, "UNAUTHORIZED", message, challenge)
    body = scrape([*store_figures(get_store), *queue_figures(get_queue())])
    return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def init_app(app: Flask, enabled: bool) -> None:
    """Serve /metrics and count requests, unless metrics are turned off (METRICS_ENABLED=0)."""
    if not enabled:
        return
    accesslog.observe(pending_requests.add)
    app.register_blueprint(bp)
