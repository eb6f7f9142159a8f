"""Scratch files: private, held by their run, removed by a sweep only once nobody holds them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat

from storage import scratch
from storage.scratch import ScratchFile


def test_a_scratch_file_is_private_and_gone_after_its_block(tmp_path):
    directory = tmp_path / "tmp"
    with ScratchFile(directory / "p.zip") as held:
        held.path.write_bytes(b"plaintext")
        assert stat.S_IMODE(held.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert list(directory.iterdir()) == []


def test_a_too_open_directory_is_closed(tmp_path):
    directory = tmp_path / "tmp"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    with ScratchFile(directory / "p.zip"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_sweep_keeps_held_files_and_removes_the_others(tmp_path):
    with ScratchFile(tmp_path / "held.zip") as held:
        (tmp_path / "left.zip").write_bytes(b"x")
        assert scratch.sweep(tmp_path) == 1
        assert held.path.exists() and not (tmp_path / "left.zip").exists()


def _hold_then_wait(path, ready):
    with ScratchFile(path):
        ready.set()
        signal.pause()


def test_a_file_held_by_a_killed_process_is_swept(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    path = tmp_path / "p.zip"
    child = ctx.Process(target=_hold_then_wait, args=(path, ready))
    child.start()
    assert ready.wait(60)
    assert scratch.sweep(tmp_path) == 0 and path.exists()  # its run is alive
    os.kill(child.pid, signal.SIGKILL)
    child.join(60)
    assert scratch.sweep(tmp_path) == 1 and not path.exists()


def test_sweep_of_a_missing_directory_is_nothing(tmp_path):
    assert scratch.sweep(tmp_path / "none") == 0
