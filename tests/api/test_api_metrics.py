"""`GET /metrics` of the single-process app: request figures by route template (never an id or a
link), packages by status and error code read from the store, queue depths read from the broker,
the `_up` gauges when either fails, the optional token, the off switch, no rate limit. The
gunicorn path (several workers summed) is in tests/integration/test_observability.py."""

from __future__ import annotations

import socket

import pytest
from celery import Celery
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from api import create_app, metrics
from api.queue import PackageQueue
from storage.crypto import package_id_for
from tests.api.api_support import (
    TEST_CONFIG,
    bearer,
    discord_link,
    new_upn,
    path_form,
    sample_views,
)

PACKAGE_ID = "0123456789abcdef0123456789abcdef"


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    """The samples of one scrape: (name, sorted labels) -> value."""
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data()
    assert answer.content_type.startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples: dict, route: str, status: str, method: str = "GET") -> float:
    return value(samples, "dumpus_http_requests_total", method=method, route=route, status=status)


def test_requests_are_counted_by_route_template(client, packages):
    before = scrape(client)
    upn = new_upn()
    client.get(f"/api/data/{PACKAGE_ID}/about")
    client.get(f"/api/data/{PACKAGE_ID}/about")
    client.get(f"/api/data/{PACKAGE_ID}/user/112233445566778899")
    client.post(path_form(discord_link(upn)))
    client.get("/no/such/path")
    after = scrape(client)
    template = "/api/data/<package_id>/about"
    assert requests_of(after, template, "401") - requests_of(before, template, "401") == 2
    user = "/api/data/<package_id>/user/<user_id>"
    assert requests_of(after, user, "401") - requests_of(before, user, "401") == 1
    submit = "/api/process/<package_link>"
    assert (
        requests_of(after, submit, "202", "POST") - requests_of(before, submit, "202", "POST") == 1
    )
    assert requests_of(after, "<unmatched>", "404") - requests_of(before, "<unmatched>", "404") == 1
    text = client.get("/metrics").get_data(as_text=True)
    assert PACKAGE_ID not in text and "112233445566778899" not in text
    assert upn[:40] not in text and "discord" not in text


def test_latencies_are_a_histogram_per_route_template(client):
    before = scrape(client)
    client.get("/health")
    after = scrape(client)
    count = "dumpus_http_request_duration_seconds_count"
    assert (
        value(after, count, method="GET", route="/health")
        - value(before, count, method="GET", route="/health")
        == 1
    )
    infinite = value(
        after,
        "dumpus_http_request_duration_seconds_bucket",
        method="GET",
        route="/health",
        le="+Inf",
    )
    assert infinite == value(after, count, method="GET", route="/health")


def test_requests_wait_in_memory_until_a_flush_adds_them_once():
    pending = metrics.PendingRequests()
    route = "/test/pending/<package_id>"
    before = requests_of(_registry_samples(), route, "200")
    for _ in range(3):
        pending.add("GET", route, 200, 1.5)
    pending.add("GET", metrics.PATH, 200, 1.0)  # the scrape itself: never counted
    assert requests_of(_registry_samples(), route, "200") == before  # not yet
    pending.flush()
    pending.flush()  # nothing left: nothing counted twice
    samples = _registry_samples()
    assert requests_of(samples, route, "200") - before == 3
    assert not any(dict(labels).get("route") == metrics.PATH for _, labels in samples)


def _registry_samples() -> dict[tuple[str, tuple], float]:
    """The request figures of this process, without flushing anything."""
    registry = CollectorRegistry()
    registry.register(metrics.REQUESTS)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_the_scrape_does_not_count_itself(client):
    scrape(client)
    samples = scrape(client)
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in samples)


def test_the_fast_read_path_is_counted_too(client, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    before = scrape(client)
    assert client.get(f"/api/data/{package_id}/overview", headers=bearer(upn)).status_code == 200
    after = scrape(client)
    route = "/api/data/<package_id>/overview"
    assert requests_of(after, route, "200") - requests_of(before, route, "200") == 1


# -- packages and queues, read at scrape time -----------------------------------------------------


def test_packages_by_status_and_error_code(client, packages):
    packages.queued(new_upn())
    packages.queued(new_upn())
    packages.claimed(new_upn())
    packages.errored(new_upn())
    packages.errored(new_upn(), code="TOO_LARGE")
    samples = scrape(client)
    assert value(samples, "dumpus_packages", status="QUEUED") == 2
    assert value(samples, "dumpus_packages", status="DOWNLOADING") == 1
    assert value(samples, "dumpus_packages", status="ERRORED") == 2
    assert ("dumpus_packages", (("status", "PROCESSED"),)) in samples  # 0, but present
    assert value(samples, "dumpus_packages_errored", error_code="DOWNLOAD_FAILED") == 1
    assert value(samples, "dumpus_packages_errored", error_code="TOO_LARGE") == 1
    assert value(samples, "dumpus_store_up") == 1


class BrokenCounts:
    """A store whose package counts fail (a database that went away)."""

    def __init__(self, store) -> None:
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    @property
    def packages(self):
        raise ConnectionError("the store is down")


def test_a_failing_store_leaves_its_figures_out(settings, store, queue):
    client = create_app(TEST_CONFIG, settings=settings, store=BrokenCounts(store), queue=queue)
    samples = scrape(client.test_client())
    assert value(samples, "dumpus_store_up") == 0
    assert not any(name.startswith("dumpus_packages") for name, _ in samples)


@pytest.fixture
def broker_queue() -> PackageQueue:
    """The API's queue facade on kombu's in-memory broker (a real `queue_declare`)."""
    return PackageQueue(Celery("metrics-test", broker="memory://"))


def test_queue_depths_are_read_from_the_broker(settings, store, broker_queue):
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=broker_queue)
    client = client.test_client()
    before = scrape(client)
    broker_queue.submit("a" * 32)
    broker_queue.submit("b" * 32)
    after = scrape(client)
    depth = "dumpus_queue_messages"
    assert value(after, depth, queue="packages") - value(before, depth, queue="packages") == 2
    assert (depth, (("queue", "default"),)) in after
    assert value(after, "dumpus_broker_up") == 1


def test_an_unreachable_broker_leaves_the_depths_out(settings, store):
    down = PackageQueue(Celery("metrics-test", broker="redis://127.0.0.1:1/0"))
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=down).test_client()
    samples = scrape(client)
    assert value(samples, "dumpus_broker_up") == 0
    assert not any(name == "dumpus_queue_messages" for name, _ in samples)
    assert value(samples, "dumpus_store_up") == 1


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers (a hung broker)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.timeout(60)  # without the socket timeouts, the scrape would wait here forever
def test_a_broker_that_never_answers_leaves_the_depths_out(settings, store, silent_port):
    hung = PackageQueue(Celery("metrics-test", broker=f"redis://127.0.0.1:{silent_port}/0"))
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=hung).test_client()
    samples = scrape(client)
    assert value(samples, "dumpus_broker_up") == 0 and value(samples, "dumpus_store_up") == 1


# -- access ---------------------------------------------------------------------------------------

TOKEN = "metrics-token-0123456789"


def app_with(settings, store, queue, **changes):
    return create_app(
        TEST_CONFIG, settings=settings.with_overrides(**changes), store=store, queue=queue
    ).test_client()


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
    ids=["none", "wrong", "not a bearer", "longer"],
)
def test_a_token_is_required_when_one_is_set(settings, store, queue, header):
    client = app_with(settings, store, queue, metrics_token=TOKEN)
    answer = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "UNAUTHORIZED"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "dumpus_" not in answer.get_data(as_text=True)


def test_the_token_opens_the_metrics(settings, store, queue):
    client = app_with(settings, store, queue, metrics_token=TOKEN)
    assert scrape(client, headers={"Authorization": f"Bearer {TOKEN}"})


def test_metrics_can_be_turned_off(settings, store, queue):
    client = app_with(settings, store, queue, metrics_enabled=False)
    answer = client.get("/metrics")
    assert answer.status_code == 404 and answer.json["error"]["code"] == "NOT_FOUND"


def test_the_metrics_are_not_rate_limited(settings, store, queue):
    client = app_with(settings, store, queue, rate_limit_read="2/minute")
    for _ in range(5):
        scrape(client)
    statuses = [client.get(f"/api/data/{PACKAGE_ID}/about").status_code for _ in range(3)]
    assert statuses[-1] == 429  # the read budget itself is in force


def test_the_metrics_route_is_not_in_the_openapi_document(client):
    assert "/metrics" not in client.get("/openapi/openapi.json").json["paths"]
