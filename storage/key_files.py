"""Keys kept in files of their own, apart from every database: written durably, destroyed by
overwriting then unlinking (crypto-shredding: what they sealed is noise from then on)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_key_file(path: Path, key: bytes) -> None:
    """`key` in a new file (0600 in a 0700 directory), synced with its directory entry: a key
    lost to a power cut would lose what it seals."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def destroy_key_file(path: Path) -> None:
    """Overwrite a key file with zeros, then unlink it (a no-op when it is already gone)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        os.write(fd, bytes(os.fstat(fd).st_size))
        os.fsync(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
