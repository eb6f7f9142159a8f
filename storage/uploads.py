"""Direct uploads waiting for their worker: encrypted as they stream in, gone when their package
ends.

A direct upload (`POST /api/process/upload`) has no link. Its key material is a random key the
API makes and answers once (the package id is that key's MD5, as a Discord UPN's is, so every
route that takes a UPN takes it). The link vault seals `storage.links.upload_link(key)` as it
seals a link, and the file is written encrypted under a key derived from the key material and
the server secret: the server holds the bytes exactly as it holds a link, readable only while the
vault's key of the package lives. When the package ends (processed, failed, deleted) the vault's
keys are shredded and the file is removed (`storage.shredding`); a file left by a process that
died is removed by `UploadFiles.sweep`.

File format: `MAGIC`, a 4-byte random nonce prefix, then chunks of at most `CHUNK_BYTES` of the
plaintext, each sealed with AES-256-GCM (nonce: the prefix and the chunk's 8-byte index) and
written as its 4-byte big-endian length and the sealed bytes. The last chunk, and only it, has
`b"\\x01"` as associated data: a file cut short, reordered or spliced does not open.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import DecryptionError, derive_key
from storage.scratch import private_dir, remove_if_abandoned

MAGIC = b"DUU1"
CHUNK_BYTES = 1 << 20
NONCE_PREFIX_BYTES = 4
TAG_BYTES = 16
UPLOAD_KEY_LABEL = b"dumpus-stats/v1/upload-file"
LAST, NOT_LAST = b"\x01", b"\x00"
ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_END_RECORD = b"PK\x05\x06"
ZIP_END_RECORD_BYTES = 22
ZIP_TAIL_BYTES = ZIP_END_RECORD_BYTES + 0xFFFF  # the end record and the longest comment
HASH_QUEUE = 8  # writes waiting for the hashing thread (a few MiB at most)
_LENGTH = struct.Struct(">I")
_UPLOAD_FILE = re.compile(r"([0-9a-f]{32})\.(upload|part)")


def upload_key(key_material: str, server_secret: bytes) -> bytes:
    """The key an upload's file is encrypted with."""
    return derive_key(key_material.encode(), server_secret, UPLOAD_KEY_LABEL)


class UploadTooLarge(Exception):
    """More bytes than the upload may have."""


class Writable(Protocol):
    """Where sealed chunks go: a file on disk, or a GridFS file."""

    def write(self, data: bytes) -> object: ...


class Incoming:
    """One upload being received: plaintext in, sealed chunks out to a locked `.part` file.

    Its SHA-256, size and whether it looks like a zip are known once `finish` ran. `keep` makes
    it the package's upload; an `Incoming` left without `keep` removes its file (`UploadFiles`).
    """

    def __init__(
        self,
        file: Writable,
        key: bytes,
        max_bytes: int,
        sync: Callable[[], None] | None = None,
    ) -> None:
        self._file, self._aead, self._max_bytes = file, AESGCM(key), max_bytes
        self._sync = sync  # what makes the file durable (flush and fsync), if anything
        self._prefix = os.urandom(NONCE_PREFIX_BYTES)
        self._pending = bytearray(CHUNK_BYTES)  # one chunk, reused: no allocation per write
        self._filled = 0
        self._chunks = 0
        self._digest = _Digest()
        self._head = b""
        self._tail = bytearray()
        self.size = 0
        self.kept = False
        file.write(MAGIC + self._prefix)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._max_bytes:
            raise UploadTooLarge
        self._digest.update(data)
        if len(self._head) < len(ZIP_LOCAL_HEADER):
            self._head = (self._head + data[: len(ZIP_LOCAL_HEADER)])[: len(ZIP_LOCAL_HEADER)]
        self._keep_tail(data)
        view = memoryview(data)
        while view:
            if self._filled == CHUNK_BYTES:  # more follows: this one is not the last
                self._seal(NOT_LAST)
            taken = min(CHUNK_BYTES - self._filled, len(view))
            self._pending[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]

    def finish(self) -> None:
        """Seal the last chunk and make the file durable; the hash is then complete."""
        self._seal(LAST)
        if self._sync is not None:
            self._sync()
        self._digest.value()

    def keep(self) -> None:
        """Make it the package's upload once its block ends (call it after `finish`)."""
        self.kept = True

    @property
    def sha256(self) -> bytes:
        """The plaintext's SHA-256 (once `finish` ran)."""
        return self._digest.value()

    def close(self) -> None:
        """Stop hashing (an upload given up before `finish`)."""
        self._digest.value()

    def looks_like_a_zip(self) -> bool:
        """A local file header first and an end-of-central-directory record last (its comment
        length naming exactly the bytes after it): what `zipfile` needs to open it."""
        if self._head != ZIP_LOCAL_HEADER:
            return False
        tail = bytes(self._tail)
        at = tail.rfind(ZIP_END_RECORD)
        while at >= 0:
            if len(tail) - at >= ZIP_END_RECORD_BYTES:
                (comment_length,) = struct.unpack_from("<H", tail, at + 20)
                if at + ZIP_END_RECORD_BYTES + comment_length == len(tail):
                    return True
            at = tail.rfind(ZIP_END_RECORD, 0, at)
        return False

    def _keep_tail(self, data: bytes) -> None:
        """The last `ZIP_TAIL_BYTES` received, where a zip's end record is."""
        if len(data) >= ZIP_TAIL_BYTES:
            self._tail = bytearray(data[-ZIP_TAIL_BYTES:])
        else:
            self._tail += data
            del self._tail[:-ZIP_TAIL_BYTES]

    def _seal(self, last: bytes) -> None:
        nonce = self._prefix + self._chunks.to_bytes(8, "big")
        sealed = self._aead.encrypt(nonce, memoryview(self._pending)[: self._filled], last)
        self._file.write(_LENGTH.pack(len(sealed)))
        self._file.write(sealed)
        self._chunks += 1
        self._filled = 0


class _Digest:
    """SHA-256 computed by a thread of its own while the upload is received and written
    (hashlib lets go of the GIL on large buffers): hashing was a third of a receiving thread's
    time. At most `HASH_QUEUE` writes wait to be hashed."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(HASH_QUEUE)
        self._thread = threading.Thread(target=self._run, name="upload-sha256", daemon=True)
        self._thread.start()
        self._digest: bytes | None = None

    def update(self, data: bytes) -> None:
        self._queue.put(data)

    def value(self) -> bytes:
        """The digest of everything given so far; no more may be given."""
        if self._digest is None:
            self._queue.put(None)
            self._thread.join()
            self._digest = self._hash.digest()
        return self._digest

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._hash.update(data)


class UploadFiles:
    """The uploads directory: `<package id>.part` while one is received (locked by its writer),
    `<package id>.upload` once kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, package_id: str) -> Path:
        return self.directory / f"{_checked(package_id)}.upload"

    @contextlib.contextmanager
    def incoming(self, package_id: str, key: bytes, max_bytes: int) -> Iterator[Incoming]:
        """A new upload of the package; its file is removed at the end of the block unless
        `keep()` was called in it (after `finish()`), and whatever the block raises."""
        part = self.directory / f"{_checked(package_id)}.part"
        with sealed_file(part, self.path(package_id), key, max_bytes) as incoming:
            yield incoming

    def copy_out(
        self,
        package_id: str,
        key: bytes,
        target: BinaryIO,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Decrypt the package's upload into `target`; its plaintext size. FileNotFoundError
        when there is none; DecryptionError when it does not open whole."""
        path = self.path(package_id)
        total, done = path.stat().st_size, 0
        for plaintext, read in opened_chunks(path, key):
            target.write(plaintext)
            done += len(plaintext)
            if on_progress is not None:
                on_progress(read, total)
        return done

    def remove(self, package_id: str) -> None:
        """Remove the package's upload (kept or in the making), if any."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.path(package_id).unlink()

    def sweep(self, is_live: Callable[[str], bool], older_than: float | None = None) -> int:
        """Remove what no live package needs: kept uploads of packages that are not live and a
        `.part` no process holds. Only files older than `older_than` (epoch seconds; default
        now): an upload is kept just before its package is queued."""
        if not self.directory.is_dir():
            return 0
        cutoff = time.time() if older_than is None else older_than
        removed = 0
        for path in self.directory.iterdir():
            found = _UPLOAD_FILE.fullmatch(path.name)
            with contextlib.suppress(FileNotFoundError):
                if found is None or path.stat().st_mtime >= cutoff:
                    continue
                if found.group(2) == "part":
                    removed += remove_if_abandoned(path)
                elif not is_live(found.group(1)):
                    path.unlink()
                    removed += 1
        return removed


@contextlib.contextmanager
def sealed_file(part: Path, final: Path, key: bytes, max_bytes: int) -> Iterator[Incoming]:
    """`part` written sealed (0600 in a private directory, locked by this writer), renamed to
    `final` at the end of the block when `keep()` was called in it; else, and whatever the
    block raises, removed."""
    private_dir(part.parent)
    fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a sweep leaves a file in the making alone
    received: Incoming | None = None
    moved = False
    try:
        with os.fdopen(fd, "wb", closefd=False) as file:
            received = Incoming(file, key, max_bytes, sync=partial(_flush_and_sync, file, fd))
            yield received
            if received.kept:
                os.replace(part, final)
                moved = True
    finally:
        if received is not None:
            received.close()
        if not moved:  # not kept, or the block raised (even after `keep()`)
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        os.close(fd)


def _flush_and_sync(file: BinaryIO, fd: int) -> None:
    file.flush()
    os.fsync(fd)


def opened_chunks(path: Path, key: bytes) -> Iterator[tuple[bytes, int]]:
    """Each chunk's plaintext of a sealed file and the file's bytes read so far;
    FileNotFoundError, or DecryptionError unless the file is whole and opens with `key`."""
    with path.open("rb") as source:
        yield from sealed_chunks(source, key)


def sealed_chunks(source: BinaryIO, key: bytes) -> Iterator[tuple[bytes, int]]:
    """Each chunk's plaintext of a sealed stream and its bytes read so far; DecryptionError
    unless it is whole and opens with `key`."""
    head = source.read(len(MAGIC) + NONCE_PREFIX_BYTES)
    if head[: len(MAGIC)] != MAGIC or len(head) != len(MAGIC) + NONCE_PREFIX_BYTES:
        raise DecryptionError("not an upload file")
    aead, prefix, index, read = AESGCM(key), head[len(MAGIC) :], 0, len(head)
    while True:
        length = source.read(_LENGTH.size)
        if len(length) != _LENGTH.size:
            raise DecryptionError("the upload file is cut short")
        (size,) = _LENGTH.unpack(length)
        sealed = source.read(size)
        read += _LENGTH.size + len(sealed)
        if len(sealed) != size or size > CHUNK_BYTES + TAG_BYTES:
            raise DecryptionError("the upload file is cut short")
        nonce = prefix + index.to_bytes(8, "big")
        last = _open_chunk(aead, nonce, sealed)
        yield last[1], read
        if last[0]:
            if source.read(1):
                raise DecryptionError("bytes after the last chunk")
            return
        index += 1


def _open_chunk(aead: AESGCM, nonce: bytes, sealed: bytes) -> tuple[bool, bytes]:
    """(whether it is the last chunk, its plaintext)."""
    for last, associated in ((False, NOT_LAST), (True, LAST)):
        with contextlib.suppress(InvalidTag):
            return last, aead.decrypt(nonce, sealed, associated)
    raise DecryptionError("wrong key or a tampered upload")


def _checked(package_id: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{32}", package_id):
        raise ValueError("not a package id")
    return package_id
