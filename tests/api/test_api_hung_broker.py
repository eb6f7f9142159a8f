"""A broker that accepts connections and never answers (stalled, paused) holds no request
thread: submissions answer 503 BROKER_UNAVAILABLE and health says unreachable, each within the
queue facade's socket timeouts (the pytest timeout below is the guard: without them, these
requests would wait forever)."""

from __future__ import annotations

import socket

import pytest
from celery import Celery

from api import create_app
from api.queue import PackageQueue, QueueUnavailable
from tests.api.api_support import TEST_CONFIG, discord_link, make_upn


@pytest.fixture
def hung_queue():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        yield PackageQueue(Celery("hung-broker", broker=f"redis://127.0.0.1:{port}/0"))


@pytest.mark.timeout(60)
def test_a_submission_to_a_hung_broker_is_refused(hung_queue):
    with pytest.raises(QueueUnavailable):
        hung_queue.submit("a" * 32)


@pytest.mark.timeout(60)
def test_the_api_answers_503_and_unhealthy_with_a_hung_broker(settings, store, hung_queue):
    client = create_app(TEST_CONFIG, settings=settings, store=store, queue=hung_queue)
    client = client.test_client()
    answer = client.post("/api/process", json={"package_link": discord_link(make_upn())})
    assert answer.status_code == 503
    assert answer.get_json()["errorMessageCode"] == "BROKER_UNAVAILABLE"
    health = client.get("/health")
    assert health.status_code == 503 and health.get_json()["broker"] == "unreachable"
