"""The embedded broker stops last: on SIGTERM it serves its clients until they leave (bounded),
then stops with its journal synced; killed, it takes its redis-server with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from launchers import embedded_broker
from launchers.devstack import PROJECT_ROOT
from settings import Settings
from tests.faults.conftest import wait_for


@pytest.fixture
def data_dir():
    # Unix socket paths are limited to ~100 bytes: keep the directory short.
    with tempfile.TemporaryDirectory(prefix="dmb-") as root:
        yield Path(root)


@pytest.fixture
def launched(data_dir):
    """`python -m launchers.embedded_broker` as the Procfile runs it: (process, its log)."""
    env = {k: v for k, v in os.environ.items() if k not in ("BROKER_URL", "REDIS_URL")}
    env.update({"DATA_DIR": str(data_dir), "SHUTDOWN_GRACE_SECONDS": "60"})
    log = data_dir / "launcher.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "launchers.embedded_broker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server_pid = None
    try:
        embedded_broker.wait_until_ready(_socket(data_dir))
        server_pid = int(_children(process.pid).read_text().split()[0])
        yield process, log, server_pid
    finally:
        process.kill()
        process.wait()
        if server_pid is not None and _alive(server_pid):  # a test that failed halfway
            os.kill(server_pid, signal.SIGKILL)


def _children(pid: int) -> Path:
    return Path(f"/proc/{pid}/task/{pid}/children")


def _socket(data_dir: Path) -> Path:
    return Settings(data_dir=data_dir).embedded_broker_socket.resolve()


def _client(data_dir: Path) -> redis.Redis:
    return redis.Redis(
        unix_socket_path=str(_socket(data_dir)), socket_timeout=5, single_connection_client=True
    )


def test_a_stopping_broker_serves_its_clients_until_they_leave(data_dir, launched):
    launcher, log, _server_pid = launched
    client = _client(data_dir)
    client.set("before", "1")
    launcher.send_signal(signal.SIGTERM)
    wait_for(lambda: "serving 1 connected clients" in log.read_text())
    client.rpush("after", "a message acknowledged during the shutdown")  # still served
    assert launcher.poll() is None
    client.close()
    assert launcher.wait(timeout=30) == 0

    restarted = embedded_broker.start(Settings(data_dir=data_dir))
    try:
        with _client(data_dir) as again:  # both writes are in the synced journal
            assert again.get("before") == b"1"
            assert again.lrange("after", 0, -1) == [b"a message acknowledged during the shutdown"]
    finally:
        restarted.terminate()
        restarted.wait()


def test_the_wait_for_clients_is_bounded(data_dir):
    server = embedded_broker.start(Settings(data_dir=data_dir))
    try:
        with _client(data_dir) as watcher, _client(data_dir) as staying:
            staying.ping()
            assert not embedded_broker.wait_for_clients_to_leave(watcher, 0.3)
            staying.close()
            assert embedded_broker.wait_for_clients_to_leave(watcher, 30)
    finally:
        server.terminate()
        server.wait()


def test_a_killed_launcher_takes_its_redis_server_with_it(launched):
    launcher, _log, server_pid = launched
    launcher.kill()  # what honcho does to a process still there after its kill wait
    launcher.wait()
    wait_for(lambda: not _alive(server_pid), timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie no process reaps yet counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"
