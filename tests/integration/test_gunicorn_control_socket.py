"""gunicorn's control socket lives under DATA_DIR: two API instances on one host keep their own.

gunicorn's default, `~/.gunicorn/gunicorn.ctl`, is one path per user: a second instance unlinks
the first one's socket and `gunicornc` then talks to the wrong server.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gunicorn.ctl.client import ControlClient

from launchers.devstack import PROJECT_ROOT, LocalStack, free_port

START_TIMEOUT_SECONDS = 60


def test_the_control_socket_is_under_data_dir_and_gunicorn_believes_no_scheme_header(
    monkeypatch, tmp_path
):
    import api.gunicorn_conf

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "one"))
    try:
        conf = importlib.reload(api.gunicorn_conf)
        assert conf.control_socket == str((tmp_path / "one" / "gunicorn.ctl").resolve())
        assert conf.secure_scheme_headers == {}  # the scheme is api.proxies' alone
    finally:
        monkeypatch.undo()
        importlib.reload(api.gunicorn_conf)


@contextlib.contextmanager
def gunicorn(data_dir: Path, home: Path, port: int) -> Iterator[subprocess.Popen]:
    """The API under gunicorn with the project's configuration, DATA_DIR and HOME given."""
    env = LocalStack(data_dir, {"SECRET_KEY": "control-socket-secret"}).env
    env.pop("XDG_RUNTIME_DIR", None)  # gunicorn's default would then be HOME/.gunicorn
    env.update({"HOME": str(home), "RATE_LIMIT_STORAGE_URL": "memory://"})
    command = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "api:create_app()"]
    data_dir.mkdir(parents=True)
    with open(data_dir / "api.log", "wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(30)


def listening_addresses(socket_path: Path, process: subprocess.Popen) -> list[str]:
    """The addresses of the instance answering on `socket_path`, once it answers."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not (socket_path.exists() and stat.S_ISSOCK(socket_path.stat().st_mode)):
        assert process.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, f"no control socket at {socket_path}"
        time.sleep(0.1)
    with ControlClient(str(socket_path), timeout=10) as client:
        answer = client.send_command("show listeners")
    return [listener["address"] for listener in answer["listeners"]]


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dmc-"))  # short: a Unix socket path holds 107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_two_instances_on_one_host_each_answer_on_their_own_socket(root):
    home, ports = root / "home", (free_port(), free_port())
    home.mkdir()
    with (
        gunicorn(root / "a", home, ports[0]) as first,
        gunicorn(root / "b", home, ports[1]) as second,
    ):
        first_addresses = listening_addresses(root / "a" / "gunicorn.ctl", first)
        second_addresses = listening_addresses(root / "b" / "gunicorn.ctl", second)
    assert first_addresses == [f"http://127.0.0.1:{ports[0]}"]
    assert second_addresses == [f"http://127.0.0.1:{ports[1]}"]
    assert not (home / ".gunicorn").exists()
