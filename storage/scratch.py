"""Scratch files: a package's plaintext zip on disk while one worker run downloads and reads it.

Each file is created 0600 in a 0700 directory and held under an exclusive `flock` by the run that
owns it. The kernel drops that lock when the process ends, however it ends (kill -9 included), so
`sweep` can remove every file nobody holds at any moment, on any host, without guessing from ages:
a worker runs it when it starts and before each download, beat's cleanup task every reaper
interval, and the API after a DELETE.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def private_dir(directory: Path) -> Path:
    """`directory`, created if needed, readable by its owner only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    return directory


class ScratchFile:
    """A locked, private file at `path` for the time of a `with` block; removed at its end."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> ScratchFile:
        private_dir(self.path.parent)
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(self.path, fd):
                self._fd = fd
            else:  # a sweep removed it between creation and lock: make it again
                os.close(fd)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def sweep(directory: Path) -> int:
    """Remove every file in `directory` that no live process holds; returns how many."""
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        removed += remove_if_abandoned(path)
    return removed


def remove_if_abandoned(path: Path) -> int:
    """Remove `path` unless a live process holds its lock; 1 when removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # gone already, a directory, a link: nothing of ours
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return 0  # a live run holds it
    try:
        if not _same_file(path, fd):
            return 0
        path.unlink()
        return 1
    finally:
        os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    """True when `path` still names the file open as `fd`."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
