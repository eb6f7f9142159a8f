"""The benchmark's memory sampler walks a process tree that changes under it."""

from __future__ import annotations

import subprocess
import sys

from bench.run import _children_of

SPAWN_SLEEPER = (
    "import subprocess, sys; "
    "child = subprocess.Popen(['sleep', '30']); "
    "print(child.pid, flush=True); sys.stdin.read(); child.kill(); child.wait()"
)


def test_children_of_a_process_that_ended_is_empty() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert _children_of(ended.pid) == []


def test_children_of_lists_a_live_child() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SPAWN_SLEEPER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None and parent.stdin is not None
    try:
        sleeper = int(parent.stdout.readline())
        assert _children_of(parent.pid) == [sleeper]
    finally:
        parent.stdin.close()
        parent.wait(timeout=30)
