"""Inflate zip members in a separate process that streams the bytes through a pipe.

The activity child scans; inflating in a thread of the same process made both threads fight
over the GIL (see docs/performance.md). Here a plain process runs this file as a script
(standard library only, so it starts fast), inflates every member of its job in turn and
writes framed chunks to its stdout:

    kind (1 byte) + length (8 bytes, big endian) + payload

kind D: inflated data; kind N: end of the current member (zipfile checked its CRC); kind E: the
pickled exception that stopped the inflater. The reader side (InflatedMembers) turns a missing
frame (the process died) into InflaterFailed and re-raises an E frame's exception (a corrupt
stream or a bad CRC is a zipfile.BadZipFile). When the reader goes away the next write fails with
EPIPE and the inflater exits; the reader also terminates it on close.
"""

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import types
import zipfile
import zlib

_deflate: types.ModuleType
try:  # ISA-L's inflate: the same deflate format at about 1.7x zlib's speed (docs/performance.md)
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - the locked dependencies install it
    _deflate = zlib

_HEADER = struct.Struct(">cQ")
_INFLATE_BYTES = 2 * 1024 * 1024  # most output per inflate call
_INPUT_BYTES = 256 * 1024  # compressed bytes per read: the unconsumed tail stays small
_PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = 1031  # Linux fcntl; fcntl.F_SETPIPE_SZ exists only from Python 3.10 on Linux
# zipfile's private local-header constants (sizeFileHeader, structFileHeader, _FH_*) are not in
# typeshed; read through a plain ModuleType (any attribute) rather than copying their values.
# (No `typing` import here: this file starts as a script and stays standard library, lean.)
_zipfile_private: types.ModuleType = zipfile


# Chunks of a few MiB are allocated and freed all the time. With glibc's default thresholds they
# may be mmapped or trimmed back to the system, and every new chunk then page-faults its memory
# in again (about 1 s of system time per process on heavy). Fixed thresholds keep them on the heap.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(16 << 20), "MALLOC_TRIM_THRESHOLD_": str(32 << 20)}


def child_env() -> dict:
    """The environment for the activity processes: the caller's plus MALLOC_ENV."""
    return {**os.environ, **MALLOC_ENV}


class InflaterFailed(RuntimeError):
    """The inflater process ended without finishing its job."""


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # a smaller pipe only means more switches


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _inflate(zip_path: str, infos, out: int) -> None:
    with zipfile.ZipFile(zip_path) as archive, open(zip_path, "rb") as raw:
        for info in infos:
            with archive.open(info) as member:  # checks the local header as zipfile does
                if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 1:
                    _inflate_raw(raw, info)(out)
                else:
                    while chunk := member.read(_INFLATE_BYTES):
                        _send(out, b"D", chunk)
            _send(out, b"N", b"")


def _inflate_raw(raw, info: zipfile.ZipInfo):
    """Inflate a deflated member straight (zipfile copies its input tail each call, and is zlib)."""
    raw.seek(info.header_offset)
    header = raw.read(_zipfile_private.sizeFileHeader)
    if len(header) != _zipfile_private.sizeFileHeader:
        raise zipfile.BadZipFile("Truncated file header")
    fields = struct.unpack(_zipfile_private.structFileHeader, header)
    name_length = fields[_zipfile_private._FH_FILENAME_LENGTH]
    raw.seek(name_length + fields[_zipfile_private._FH_EXTRA_FIELD_LENGTH], 1)

    def run(out: int) -> None:
        inflater = _deflate.decompressobj(-15)
        left = info.compress_size
        crc = 0
        size = 0
        pending = b""
        while not inflater.eof:
            if not pending:
                if left <= 0:
                    raise EOFError
                pending = raw.read(min(_INPUT_BYTES, left))
                if not pending:
                    raise EOFError
                left -= len(pending)
            try:
                chunk = inflater.decompress(pending, _INFLATE_BYTES)
            except _deflate.error as error:
                raise zipfile.BadZipFile(f"Corrupt data in {info.filename!r}: {error}") from None
            pending = inflater.unconsumed_tail
            if chunk:
                size += len(chunk)
                if size > info.file_size:
                    raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
                crc = _deflate.crc32(chunk, crc)
                _send(out, b"D", chunk)
        if size != info.file_size or crc != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")

    return run


def _send(out: int, kind: bytes, payload) -> None:
    header = _HEADER.pack(kind, len(payload))
    sent = os.writev(out, (header, payload))
    if sent < len(header):
        _write_all(out, header[sent:])
        sent = len(header)
    if sent - len(header) < len(payload):
        _write_all(out, memoryview(payload)[sent - len(header) :])


def main() -> None:
    """Entry point of the inflater process: job (pickled) on stdin, frames on stdout."""
    out = sys.stdout.fileno()
    _grow_pipe(out)
    try:
        with os.fdopen(sys.stdin.fileno(), "rb", closefd=False) as jobs:
            zip_path, infos = pickle.load(jobs)
        _inflate(zip_path, infos, out)
    except BrokenPipeError:
        return  # the reader is gone: nobody to tell
    except BaseException as error:  # every other failure must reach the reader
        try:
            payload = pickle.dumps(error)
        except Exception:
            payload = pickle.dumps(InflaterFailed(f"{type(error).__name__} in the inflater"))
        with contextlib.suppress(OSError):
            _send(out, b"E", payload)


class InflatedMembers:
    """The scanner's side: starts the inflater process and reads its members in order."""

    def __init__(self, zip_path: str, infos) -> None:
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None  # both are PIPE just above
        self._out = stdout
        _grow_pipe(self._out.fileno())
        try:
            stdin.write(pickle.dumps((zip_path, list(infos))))
            stdin.close()
        except OSError:
            pass  # the inflater died early: the first read reports it

    def read(self) -> bytes:
        """Return the next chunk of the current member, b"" at its end."""
        header = self._exactly(_HEADER.size)
        kind, size = _HEADER.unpack(header)
        if kind == b"D":
            return self._exactly(size)
        if kind == b"N":
            return b""
        if kind == b"E":
            raise pickle.loads(self._exactly(size))
        raise InflaterFailed(f"unexpected frame {kind!r} from the inflater")

    def _exactly(self, size: int) -> bytes:
        data = self._out.read(size)
        if len(data) != size:
            code = self._process.wait()
            raise InflaterFailed(f"the inflater died (exit code {code})")
        return data

    def close(self) -> None:
        """Stop the inflater if it still runs and reap it."""
        stop_process(self._process)
        self._out.close()


def stop_process(process: subprocess.Popen, grace_seconds: float = 5) -> None:
    """Terminate a child that still runs, kill it after a grace period, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MemberStream:
    """File-like view of one member of an InflatedMembers, reporting progress."""

    def __init__(self, members: InflatedMembers, progress) -> None:
        self._members = members
        self._progress = progress
        self._ended = False

    def read(self, _size: int = -1) -> bytes:
        """Return the next inflated chunk (b"" at the end of the member)."""
        if self._ended:
            return b""
        chunk = self._members.read()
        if not chunk:
            self._ended = True
        self._progress.advance(len(chunk))
        return chunk

    def drain(self) -> None:
        """Skip what the scanner left of the member, so the next member starts in step."""
        while not self._ended:
            self.read()


if __name__ == "__main__":
    main()
