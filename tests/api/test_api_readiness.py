"""Liveness and readiness: `/livez` touches nothing, `/readyz` asks each dependency in bounded
time, concurrently, and says which one is down."""

from __future__ import annotations

import threading
import time

import pytest

from api import create_app
from api.health import WorkersWatch
from api.queue import PackageQueue, QueueUnavailable
from settings import Settings
from tests.api.api_support import TEST_CONFIG, RecordingQueue

ALL_OK = {"store": "ok", "broker": "ok", "secret": "ok", "workers": "ok"}


class PingStore:
    """A store whose ping answers `answer` once `release` is set (set from the start by default)."""

    def __init__(self, answer: bool = True, release: threading.Event | None = None) -> None:
        self.answer = answer
        self.release = release or threading.Event()
        if release is None:
            self.release.set()
        self.timeouts: list[float | None] = []

    def ping(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        self.release.wait(30)  # a deadline, so a test that waited for it cannot hang for ever
        return self.answer


def ready(settings, store, queue=None):
    app = create_app(TEST_CONFIG, settings=settings, store=store, queue=queue or RecordingQueue())
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_livez_is_200_whatever_is_down(settings):
    queue = RecordingQueue()
    queue.broken = True
    app = create_app(TEST_CONFIG, settings=settings, store=PingStore(False), queue=queue)
    response = app.test_client().get("/livez")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_is_200_when_everything_answers(client, store):
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (200, ALL_OK)


def test_readyz_pings_the_store_with_its_own_timeout(settings):
    store = PingStore()
    assert ready(settings.with_overrides(ready_check_timeout=0.3), store)[0] == 200
    assert store.timeouts == [0.3]


def test_readyz_names_an_unreachable_store(settings):
    assert ready(settings, PingStore(False)) == (503, {**ALL_OK, "store": "unreachable"})


def test_readyz_names_an_unreachable_broker_and_cannot_ask_the_workers(settings):
    queue = RecordingQueue()
    queue.broken = True
    body = {**ALL_OK, "broker": "unreachable", "workers": "unreachable"}
    assert ready(settings, PingStore(), queue) == (503, body)


def test_readyz_says_when_no_worker_consumes_the_packages_queue(settings):
    queue = RecordingQueue()
    queue.consumed = ["default"]  # only the sweeper runs
    assert ready(settings, PingStore(), queue) == (503, {**ALL_OK, "workers": "none"})


def test_readyz_does_not_wait_for_a_hanging_store(settings):
    release = threading.Event()
    try:
        status, body = ready(
            settings.with_overrides(ready_check_timeout=0.05), PingStore(True, release)
        )
        # the ping would have said "ok" had the answer waited for it
        assert (status, body["store"]) == (503, "unreachable")
        assert not release.is_set()
    finally:
        release.set()


def test_a_failing_check_is_down_not_a_500(settings):
    class BrokenStore:
        def ping(self, timeout=None):
            raise RuntimeError("boom")

    assert ready(settings, BrokenStore()) == (503, {**ALL_OK, "store": "unreachable"})


def test_with_mongo_url_and_its_secret_file_gone_the_api_is_not_ready(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("shared")  # the settings refuse to start without it
    settings = Settings(
        data_dir=tmp_path, mongo_url="mongodb://db:27017", secret_key_file=str(secret_file)
    )
    secret_file.unlink()  # lost since the start (an unmounted volume)
    assert ready(settings, PingStore()) == (503, {**ALL_OK, "secret": "missing"})


def test_the_health_route_keeps_its_old_answer(client):
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (200, {"broker": "ok", "store": "ok"})


@pytest.mark.parametrize("raw", ["0", "-1", "nan"])
def test_ready_check_timeout_must_be_positive(raw):
    with pytest.raises(ValueError, match="READY_CHECK_TIMEOUT"):
        Settings.from_env({"READY_CHECK_TIMEOUT": raw})


# -- asking the workers ---------------------------------------------------------------------------


class FakeConnection:
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def ensure_connection(self, **kwargs):
        if not self.reachable:
            raise ConnectionRefusedError("no broker")


class FakeCeleryApp:
    """What `has_consumer` uses of a Celery app: a connection and `control.inspect`."""

    def __init__(self, replies, reachable: bool = True) -> None:
        self.replies, self.reachable, self.asked = replies, reachable, []
        self.control = self

    def connection_for_write(self, connect_timeout, transport_options=None):
        return FakeConnection(self.reachable)

    def inspect(self, timeout, connection):
        self.asked.append(timeout)
        return self

    def active_queues(self):
        return self.replies


def test_has_consumer_looks_for_the_queue_in_every_workers_reply():
    replies = {"sweeper@h": [{"name": "default"}], "worker@h": [{"name": "packages"}]}
    fake = FakeCeleryApp(replies)
    assert PackageQueue(fake).has_consumer("packages", 0.4)
    assert fake.asked == [0.4]
    assert not PackageQueue(FakeCeleryApp({"sweeper@h": [{"name": "default"}]})).has_consumer(
        "packages", 0.4
    )
    assert not PackageQueue(FakeCeleryApp(None)).has_consumer("packages", 0.4)  # no reply


def test_has_consumer_raises_when_the_broker_cannot_be_reached():
    with pytest.raises(QueueUnavailable):
        PackageQueue(FakeCeleryApp({}, reachable=False)).has_consumer("packages", 0.4)


# -- the workers' answer, kept between probes ----------------------------------------------------


class CountingQueue(RecordingQueue):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def has_consumer(self, queue: str, timeout: float) -> bool:
        self.asked += 1
        return super().has_consumer(queue, timeout)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def watched(settings):
    """(client, queue, clock) of an app whose workers' answer is kept by a fake clock."""
    from api.health import WATCH_EXTENSION

    queue, clock = CountingQueue(), Clock()
    app = create_app(TEST_CONFIG, settings=settings, store=PingStore(), queue=queue)
    wait_for(lambda: queue.asked == 1)  # the app asks once as it starts
    queue.asked = 0
    app.extensions[WATCH_EXTENSION] = WorkersWatch(clock)
    return app.test_client(), queue, clock


def test_the_app_asks_the_workers_as_it_starts(settings):
    queue = CountingQueue()
    app = create_app(TEST_CONFIG, settings=settings, store=PingStore(), queue=queue)
    wait_for(lambda: queue.asked == 1)
    assert app.test_client().get("/readyz").get_json()["workers"] == "ok"
    assert queue.asked == 1  # the probe used the answer asked at start


def workers(client) -> str:
    return client.get("/readyz").get_json()["workers"]


def wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the background question was never asked"
        time.sleep(0.01)


def test_a_fresh_answer_is_given_without_asking_again(watched):
    client, queue, clock = watched
    assert workers(client) == "ok"
    clock.now += WorkersWatch.REFRESH_SECONDS - 1
    assert workers(client) == "ok"
    assert queue.asked == 1


def test_an_older_answer_is_given_while_a_new_one_is_asked(watched):
    client, queue, clock = watched
    assert workers(client) == "ok"
    queue.consumed = []  # the packages worker stopped
    clock.now += WorkersWatch.REFRESH_SECONDS
    assert workers(client) == "ok"  # the last answer, while the new one comes
    wait_for(lambda: queue.asked == 2)
    wait_for(lambda: workers(client) == "none")


def test_an_answer_too_old_is_never_given(watched):
    client, queue, clock = watched
    assert workers(client) == "ok"
    queue.consumed = []
    clock.now += WorkersWatch.VALID_SECONDS
    assert workers(client) == "none"
