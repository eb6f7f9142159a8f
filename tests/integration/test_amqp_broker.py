"""The `amqp://` broker path: the same flow with RabbitMQ as the broker, where one answers.

`make test` never depends on RabbitMQ being installed: this test runs where a RabbitMQ answers on
TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672//) and is skipped, saying so, elsewhere.
"""

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from kombu import Connection

from launchers.devstack import LocalStack
from samples import SampleSpec, generate_package
from tests.support.client import Client

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def rabbitmq_answers() -> bool:
    try:
        with Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not rabbitmq_answers(), reason=f"no RabbitMQ at {AMQP_URL}")


def test_a_package_goes_through_rabbitmq(file_server):
    generate_package(file_server.directory / "amqp.zip", SampleSpec(messages=400, events=600))
    with Connection(AMQP_URL) as conn:  # a clean queue: earlier runs may have left messages
        for queue in ("packages", "default"):
            conn.SimpleQueue(queue).clear()
    root = Path(tempfile.mkdtemp(prefix="dma-"))
    env = {"BROKER_URL": AMQP_URL, "DL_ZIP_WHITELISTED_DOMAINS": file_server.origin}
    try:
        with LocalStack(root / "data", env) as stack:
            stack.start_all()
            assert "broker" not in stack.processes  # no embedded Redis in this stack
            client = Client(stack.api_url)
            link = f"{file_server.origin}/amqp.zip?k={secrets.token_urlsafe(16)}"
            answer = client.submit(link)
            assert answer.status_code == 202
            status = client.wait_processed(answer.json()["packageId"], link)
            assert status["isDataAvailable"], status
            assert client.get("/health", link).json() == {"broker": "ok", "store": "ok"}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_apis_queue_depths_read_rabbitmq():
    from celery import Celery

    from api.queue import PackageQueue

    queue = f"obs-depth-{secrets.token_hex(4)}"
    app = Celery("depth-test", broker=AMQP_URL)
    try:
        app.send_task("depth.test", args=["a"], queue=queue)  # declares the queue
        app.send_task("depth.test", args=["b"], queue=queue)
        names = (queue, f"{queue}-never-declared")
        deadline = time.monotonic() + 10  # another connection's publishes land a moment later
        while (depths := PackageQueue(app).depths(names, 2.0)) != {queue: 2, names[1]: 0}:
            assert time.monotonic() < deadline, depths
            time.sleep(0.1)
    finally:
        with Connection(AMQP_URL) as conn:
            conn.default_channel.queue_delete(queue)
