"""A whole local stack in child processes: embedded broker, a Celery worker, the API, a file server.

Used by `make demo` and by the integration tests, so both run exactly the real processes.
Everything listens on 127.0.0.1 or a Unix socket under the stack's data directory.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from launchers import embedded_broker
from settings import Settings

READY_TIMEOUT_SECONDS = 60
STOP_MARGIN_SECONDS = 5  # beyond SHUTDOWN_GRACE_SECONDS, before a child is killed
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FileServer:
    """Serves one directory over HTTP on 127.0.0.1 from a thread (the package download server)."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the demo's output clean
        pass


@dataclass
class LocalStack:
    """Broker, worker and API processes sharing one data directory; stop() ends them all."""

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    api_port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The environment every child process gets."""
        env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL")}
        env.pop("BROKER_URL", None)
        env.update({"DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"})
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        env.update(self.extra_env)
        return env

    @property
    def settings(self) -> Settings:
        """The settings the children see."""
        return Settings.from_env(self.env)

    @property
    def api_url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.api_port}"

    def log_path(self, name: str) -> Path:
        """Where a child's combined output goes."""
        return self.data_dir / "logs" / f"{name}.log"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(name), "ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                args,
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the pool children
            )
        self.processes[name] = process
        return process

    def start_broker(self) -> None:
        """The embedded Redis (skipped when the environment names a broker)."""
        if self.settings.broker_url:
            return
        log = self.log_path("broker")
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.processes["broker"] = embedded_broker.start(
                self.settings, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def _celery(self, name: str, *args: str) -> subprocess.Popen:
        return self._spawn(name, [sys.executable, "-m", "celery", "-A", "tasks.celery_app", *args])

    def start_worker(self, name: str = "worker", concurrency: int = 1) -> subprocess.Popen:
        """A real Celery worker process on both queues."""
        return self._celery(
            name,
            "worker",
            "--queues",
            "packages,default",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        )

    def start_beat(self) -> subprocess.Popen:
        """The beat scheduler (reaper, purge, cleanup)."""
        schedule = str(self.data_dir / "celerybeat-schedule")
        return self._celery("beat", "beat", "--schedule", schedule, "--loglevel", "INFO")

    def start_flower(self, port: int, basic_auth: str) -> subprocess.Popen:
        """Flower through its guarded launcher, with a password, on 127.0.0.1:port."""
        self.extra_env.update({"FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": basic_auth})
        return self._spawn("flower", [sys.executable, "-m", "launchers.flower"])

    def kill(self, name: str) -> None:
        """SIGKILL a child and its whole process group (a crash, not a shutdown)."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def start_api(self, workers: int = 1) -> None:
        """The API under gunicorn on a free port; waits for /health."""
        self.api_port = self.api_port or free_port()
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:api.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{self.api_port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "api:create_app()",
        ]
        self._spawn("api", args)
        self._wait_for_api()

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.processes["api"].poll() is not None:
                raise RuntimeError(f"the API exited; see {self.log_path('api')}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("the API did not become healthy in time")

    def start_all(self) -> LocalStack:
        """Broker, worker and API."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_broker()
        self.start_worker()
        self.start_api()
        return self

    def stop(self, name: str | None = None, timeout: float | None = None) -> None:
        """Stop one child (or all, API first, broker last); SIGKILL after `timeout` seconds
        (default: long enough for a worker to hand its packages back, docs/shutdown.md)."""
        # the API first (no new work), the broker last (the workers hand packages back through it)
        order = sorted(self.processes, key=lambda key: (key == "broker", key != "api"))
        names = [name] if name else order
        if timeout is None:
            timeout = self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        for key in names:
            process = self.processes.pop(key, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
