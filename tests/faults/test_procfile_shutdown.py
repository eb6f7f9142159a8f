"""`make run` (launchers.procfile) gives a slow process its time to stop: honcho alone would kill
it 5 s after the first process exited."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import honcho.manager  # type: ignore[import-untyped]

from launchers import procfile
from launchers.devstack import PROJECT_ROOT
from settings import Settings
from tests.faults.conftest import wait_for

SLOW_STOP_SECONDS = 7  # above honcho's own 5 s, below the raised wait

SLOW_PROCESS = """
import signal, sys, time
from pathlib import Path

def stop(*_):
    time.sleep(float(sys.argv[2]))  # a worker handing its packages back, say
    Path(sys.argv[1], "stopped").write_text("cleanly")
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
Path(sys.argv[1], "ready").write_text("")
while True:
    signal.pause()
"""


def test_the_kill_wait_covers_the_grace_period_and_the_broker():
    settings = Settings(shutdown_grace_seconds=20)
    assert procfile.kill_wait_seconds(settings) > 20 + 10
    assert honcho.manager.KILL_WAIT == 5  # what launchers.procfile raises (honcho 2.0)


def test_a_slow_process_stops_cleanly_under_make_run():
    with tempfile.TemporaryDirectory(prefix="dmp-") as root:
        folder = Path(root)
        (folder / "slow.py").write_text(SLOW_PROCESS)
        (folder / "Procfile").write_text(
            "quick: exec sleep 1000\n"
            f"slow: exec {sys.executable} {folder / 'slow.py'} {folder} {SLOW_STOP_SECONDS}\n"
        )
        env = {**os.environ, "SHUTDOWN_GRACE_SECONDS": "1"}  # a raised wait of 16 s
        with open(folder / "honcho.log", "wb") as out:
            honcho = subprocess.Popen(
                [sys.executable, "-m", "launchers.procfile", "-f", "Procfile", "-d", root],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for(lambda: (folder / "ready").exists(), timeout=30)
            honcho.send_signal(signal.SIGTERM)
            honcho.wait(timeout=30)
            assert (folder / "stopped").read_text() == "cleanly"
        finally:
            _kill_all(honcho, folder / "honcho.log")


def _kill_all(honcho: subprocess.Popen, log: Path) -> None:
    """What a failed test leaves: honcho, and its processes (each in its own group)."""
    for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text()):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid), signal.SIGKILL)
    if honcho.poll() is None:
        os.killpg(honcho.pid, signal.SIGKILL)
        honcho.wait()
