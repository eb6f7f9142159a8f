"""Inflate zip members in a separate process that streams the bytes through a pipe.

The activity child scans; inflating in a thread of the same process made both threads fight
over the GIL (see docs/performance.md). Here a plain process runs this file as a script
(standard library only, so it starts fast), inflates every member of its job in turn and
writes framed chunks to its stdout:

    kind (1 byte) + length (8 bytes, big endian) + payload

kind D: inflated data; kind S: inflated data of that length, in the next slot of the shared ring
(below); kind N: end of the current member (zipfile checked its CRC); kind E: the pickled
exception that stopped the inflater.

Where the system has memfd (Linux), the data goes through a ring of shared-memory slots rather
than the pipe (`SlotRing`): the reader reads each chunk in its slot (`read_view`: the scanner's
C loop scans it in place) and hands the slot back with one byte on a second pipe when it asks for
the next, so the bytes are not copied into and out of the kernel and the pipe carries 9-byte
frames only (about a quarter of both processes' CPU went to the pipe).

The reader side (InflatedMembers) turns a missing frame (the process died) into InflaterFailed
and re-raises an E frame's exception (a corrupt stream or a bad CRC is a zipfile.BadZipFile).
When the reader goes away the next write (or wait for a slot) fails with EPIPE and the inflater
exits; the reader also terminates it on close.
"""

import contextlib
import mmap
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
_SLOTS = 4  # shared-memory slots of _INFLATE_BYTES each: the inflater runs up to 4 chunks ahead
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


def grow_pipe(fd: int) -> None:
    """Make a pipe hold _PIPE_BYTES (Linux), so a big write need not wait for the reader."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # a smaller pipe only means more switches


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class SlotRing:
    """Shared memory of _SLOTS slots, filled in turn by the inflater and emptied in the same
    order by the reader; `free` is the pipe on which the reader hands each slot back."""

    def __init__(self, memory_fd: int, free_fd: int) -> None:
        self.memory = mmap.mmap(memory_fd, _SLOTS * _INFLATE_BYTES)
        self.free_fd = free_fd
        self.turn = 0  # slots filled (inflater) or emptied (reader) so far
        self.unused = _SLOTS  # the inflater's count of slots it may fill without waiting
        self.held = False  # the reader holds the slot of its last view

    @staticmethod
    def create() -> tuple[int, int, int] | None:
        """(memory fd, free pipe's read end, its write end) of a new ring; None without memfd."""
        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is None:  # pragma: no cover - Linux has it
            return None
        memory_fd = memfd_create("dumpus-inflated")
        os.ftruncate(memory_fd, _SLOTS * _INFLATE_BYTES)
        return (memory_fd, *os.pipe())

    def _slot(self) -> int:
        at = (self.turn % _SLOTS) * _INFLATE_BYTES
        self.turn += 1
        return at

    def put(self, out: int, chunk: bytes) -> None:
        """(Inflater) the chunk into the next slot once the reader has freed it, then its frame."""
        while not self.unused:
            handed_back = len(os.read(self.free_fd, _SLOTS))
            if not handed_back:
                raise BrokenPipeError  # the reader is gone
            self.unused += handed_back
        self.unused -= 1
        at = self._slot()
        self.memory[at : at + len(chunk)] = chunk
        _write_all(out, _HEADER.pack(b"S", len(chunk)))

    def view(self, size: int) -> tuple[mmap.mmap, int, int]:
        """(Reader) the next slot's first `size` bytes in place, as (memory, start, stop); the
        slot stays the reader's until `release` (the inflater fills the others meanwhile)."""
        at = self._slot()
        self.held = True
        return self.memory, at, at + size

    def release(self) -> None:
        """(Reader) hand back the slot of the last `view`, if not yet."""
        if self.held:
            self.held = False
            with contextlib.suppress(BrokenPipeError):  # it has sent its last chunk, or died
                os.write(self.free_fd, b"\0")  # (a dead inflater is seen at the next frame)

    def close(self) -> None:
        self.memory.close()
        os.close(self.free_fd)


def _inflate(zip_path: str, infos, out: int, ring: SlotRing | None = None) -> None:
    def send(chunk: bytes) -> None:
        if ring is not None and len(chunk) <= _INFLATE_BYTES:
            ring.put(out, chunk)
        else:
            _send(out, b"D", chunk)

    with open(zip_path, "rb") as raw, contextlib.ExitStack() as opened:
        archive = None  # zipfile reads the other methods; it is opened for the first of them
        for info in infos:
            if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 1:
                _inflate_raw(raw, info)(send)  # its local header checked by _seek_data
            else:
                if archive is None:
                    archive = opened.enter_context(zipfile.ZipFile(zip_path))
                with archive.open(info) as member:
                    while chunk := member.read(_INFLATE_BYTES):
                        send(chunk)
            _send(out, b"N", b"")


def _seek_data(raw, info: zipfile.ZipInfo) -> None:
    """Seek `raw` to the member's data, past its local header, checked as zipfile checks it."""
    if info.flag_bits & 0x20:
        raise NotImplementedError("compressed patched data (flag bit 5)")
    if info.flag_bits & 0x40:
        raise NotImplementedError("strong encryption (flag bit 6)")
    raw.seek(info.header_offset)
    header = raw.read(_zipfile_private.sizeFileHeader)
    if len(header) != _zipfile_private.sizeFileHeader:
        raise zipfile.BadZipFile("Truncated file header")
    fields = struct.unpack(_zipfile_private.structFileHeader, header)
    if fields[_zipfile_private._FH_SIGNATURE] != _zipfile_private.stringFileHeader:
        raise zipfile.BadZipFile("Bad magic number for file header")
    name = raw.read(fields[_zipfile_private._FH_FILENAME_LENGTH])
    utf8 = fields[_zipfile_private._FH_GENERAL_PURPOSE_FLAG_BITS] & 0x800
    # an ASCII name reads the same in both, and UTF-8's decoder is C (cp437's is a Python codec)
    encoding = "utf-8" if utf8 or name.isascii() else "cp437"
    if name.decode(encoding, "surrogateescape") != info.orig_filename:
        raise zipfile.BadZipFile(f"File name in directory {info.orig_filename!r} and header differ")
    raw.seek(fields[_zipfile_private._FH_EXTRA_FIELD_LENGTH], 1)


def read_whole(raw, info: zipfile.ZipInfo) -> bytes:
    """A stored or deflated member read in one go from the zip's file `raw`, its size and CRC
    checked: for small members, where zipfile's per-member objects cost ten times the inflating.
    Reads at most its compressed size and inflates at most its size plus one byte."""
    _seek_data(raw, info)
    data = raw.read(info.compress_size)
    if len(data) != info.compress_size:
        raise EOFError
    if info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            data = _deflate.decompressobj(-15).decompress(data, info.file_size + 1)
        except _deflate.error as error:
            raise zipfile.BadZipFile(f"Corrupt data in {info.orig_filename!r}: {error}") from None
    elif info.compress_type != zipfile.ZIP_STORED:
        raise NotImplementedError("read_whole reads stored and deflated members only")
    if len(data) != info.file_size or _deflate.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.orig_filename!r}")
    return data


def _inflate_raw(raw, info: zipfile.ZipInfo):
    """Inflate a deflated member straight (zipfile copies its input tail each call, and is zlib)."""
    _seek_data(raw, info)

    def run(send) -> None:
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
                send(chunk)
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
    grow_pipe(out)
    try:
        with os.fdopen(sys.stdin.fileno(), "rb", closefd=False) as jobs:
            try:
                zip_path, infos, ring_fds = pickle.load(jobs)
            except EOFError:
                return  # closed without a job: not needed after all
        ring = None if ring_fds is None else SlotRing(*ring_fds)
        _inflate(zip_path, infos, out, ring)
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
    """The scanner's side: starts the inflater process and reads its members in order.

    Without a job the process starts and waits for one (`begin`): its start-up then overlaps
    whatever the caller does before it knows the members.
    """

    def __init__(self, zip_path: str | None = None, infos=None) -> None:
        fds = SlotRing.create()
        theirs = () if fds is None else fds[:2]  # the memory and the free pipe's read end
        self._ring: SlotRing | None = None
        try:
            if fds is not None:
                try:
                    self._ring = SlotRing(fds[0], fds[2])
                except BaseException:
                    os.close(fds[2])  # the ring would have closed it
                    raise
            self._process = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=child_env(),
                pass_fds=theirs,
            )
        except BaseException:
            if self._ring is not None:
                self._ring.close()
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self._ring_fds = theirs or None
        stdout = self._process.stdout
        assert stdout is not None  # PIPE just above
        self._out = stdout
        grow_pipe(self._out.fileno())
        if zip_path is not None:
            self.begin(zip_path, infos)

    def begin(self, zip_path: str, infos) -> None:
        """Give the waiting inflater its job: these members of that zip, in this order."""
        stdin = self._process.stdin
        assert stdin is not None  # PIPE in __init__
        try:
            stdin.write(pickle.dumps((zip_path, list(infos), self._ring_fds)))
            stdin.close()
        except OSError:
            pass  # the inflater died early: the first read reports it

    def read(self) -> bytes:
        """Return the next chunk of the current member, b"" at its end."""
        buffer, start, stop = self.read_view()
        if isinstance(buffer, bytes):
            return buffer
        chunk = buffer[start:stop]
        self._release()
        return chunk

    def read_view(self) -> tuple[bytes | mmap.mmap, int, int]:
        """The next chunk of the current member as (buffer, start, stop), (b"", 0, 0) at its end.

        A chunk that came through the ring is its slot of shared memory, not a copy: it stays
        valid until the next read, which hands the slot back.
        """
        self._release()
        kind, size = _HEADER.unpack(self._exactly(_HEADER.size))
        if kind == b"S" and self._ring is not None:
            return self._ring.view(size)
        chunk = self._frame(kind, size)
        return chunk, 0, len(chunk)

    def _release(self) -> None:
        if self._ring is not None:
            self._ring.release()

    def _frame(self, kind: bytes, size: int) -> bytes:
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
        """Stop the inflater if it still runs (without a job, it just ends) and reap it."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        stop_process(self._process)
        self._out.close()
        if self._ring is not None:
            self._ring.close()
            self._ring = None


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
        buffer, start, stop = self.read_view()
        return buffer if isinstance(buffer, bytes) else buffer[start:stop]

    def read_view(self) -> tuple[bytes | mmap.mmap, int, int]:
        """The next inflated chunk as InflatedMembers.read_view gives it (valid until the next
        read); (b"", 0, 0) at the end of the member."""
        if self._ended:
            return b"", 0, 0
        view = self._members.read_view()
        size = view[2] - view[1]
        if not size:
            self._ended = True
        self._progress.advance(size)
        return view

    def drain(self) -> None:
        """Skip what the scanner left of the member, so the next member starts in step."""
        while not self._ended:
            self.read()


if __name__ == "__main__":
    main()
