"""Read the activity shards in a child process while the parent reads everything else.

The child scans the shards while its own child (parsers/archive/inflater.py) reopens the zip and
inflates them into a pipe, so inflating and scanning never share a GIL; it sends back only the
aggregated tallies. It reports inflated bytes through the pipe; the parent
turns them into its own progress, so on_progress keeps running (heartbeat and abort check).
"""

import contextlib
import gc
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

from parsers.activity.rules import SourceTally
from parsers.activity.scan import CHUNK_BYTES, read_activity_fast
from parsers.archive.inflater import (
    InflatedMembers,
    MemberStream,
    child_env,
    grow_pipe,
    stop_process,
)
from parsers.instants import clear_caches
from parsers.limits import ParseLimits
from parsers.streams import Progress, Skipped

_HEARTBEAT_SECONDS = 1.0
_PUMP_SECONDS = 0.05
_EXIT_SECONDS = 2.0  # for a child that is done to leave on its own, once its pipes close
_ANSWER_SECONDS = 30.0  # for a lent job's answer (a batch of views takes milliseconds)


class ChildFailed(RuntimeError):
    """The activity process ended without a result."""


class ActivityResult:
    """What the child sends back: per-source tallies and read counts."""

    def __init__(self) -> None:
        self.tallies: dict[str, SourceTally] = {}
        self.skipped = Skipped()
        self.lines = 0
        self.files = 0
        self.peak_rss_kib = 0  # the child's own high-water mark, for the performance notes


def read_shards(members: InflatedMembers, shards, limits: ParseLimits, progress) -> ActivityResult:
    """Read every (source, ZipInfo) shard into one result, inflated in that order by `members`
    (begun with them)."""
    result = ActivityResult()
    for source, _info in shards:
        tally = result.tallies.setdefault(source, SourceTally())
        stream = MemberStream(members, progress)
        lines = read_activity_fast(stream, tally, result.skipped, limits.max_line_bytes)
        stream.drain()
        result.files += 1
        result.lines += lines
    return result


def serve(job_fd: int, result_fd: int) -> None:
    """Entry point of the child process: take the job from one pipe, answer on the other.

    The inflater is started before the job comes (both start while the parent checks the zip);
    a pipe closed without a job ends both quietly (the package did not need them). Once the
    result is sent and the inflater closed, the parent may lend the process another job
    (`ActivityProcess.lend`) on the same pipes; a closed job pipe ends it.
    """
    members = InflatedMembers()
    with (
        Connection(job_fd, writable=False) as jobs,
        Connection(result_fd, readable=False) as results,
    ):
        try:
            try:
                zip_path, shards, limits = jobs.recv()
            except EOFError:
                return
            members.begin(zip_path, [info for _, info in shards])
            if not _work(results, members, shards, limits):
                return
        finally:
            members.close()
        _serve_lent(jobs, results)


def _serve_lent(jobs: Connection, results: Connection) -> None:
    """Run the job the parent lends after the result, if any: `job.serve(receive, send)`,
    over the same pipes, until the parent closes the job pipe."""
    try:
        job = jobs.recv()
    except EOFError:
        return
    _shed_memory()
    with contextlib.suppress(EOFError, BrokenPipeError):  # the parent closed the pipes: done,
        job.serve(jobs.recv, results.send)  # or it stopped listening


def _shed_memory() -> None:
    """Give back what reading the activity left: while a lent job runs, this process is counted
    beside the parent's biggest moment (heavy: about 60 MB resident -> 30, an idle child's 18)."""
    clear_caches()
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)  # glibc keeps freed heap up to MALLOC_TRIM_THRESHOLD_
    except (OSError, AttributeError):
        pass  # not glibc: what is freed stays with the process


class MapEach:
    """A job to lend (`ActivityProcess.lend`): answers each list it receives with
    `[function(item, *args) for item in it]`. The function travels by name, so it must be
    importable at module level (a builtin such as a compressor's)."""

    def __init__(self, function: Callable, *args) -> None:
        self.function, self.args = function, args

    def serve(self, receive, send) -> None:
        function, args = self.function, self.args
        while True:
            send([function(item, *args) for item in receive()])


def serve_and_exit(job_fd: int, result_fd: int) -> NoReturn:
    """What the child's interpreter runs: `serve`, then exit without the interpreter's teardown.

    Everything is closed by then and nothing is buffered; the teardown (15-20 ms of freeing
    modules) is what the parent's `result` would wait for. A failure still leaves the usual
    way, traceback and exit status 1.
    """
    serve(job_fd, result_fd)
    os._exit(0)


def _work(connection: Connection, members: InflatedMembers, shards, limits: ParseLimits) -> bool:
    """Read the shards and send the result (True), or send the failure (False)."""
    try:
        progress = Progress(
            1 << 62, lambda done, _total: connection.send(("progress", done)), CHUNK_BYTES
        )
        result = read_shards(members, shards, limits, progress)
        result.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        connection.send(("done", result))
        return True
    except BrokenPipeError:
        raise  # the parent is gone: nobody to tell
    except BaseException as error:  # every other failure must reach the parent
        try:
            connection.send(("error", error))
        except Exception:
            connection.send(("error", ChildFailed(f"{type(error).__name__} in activity reader")))
        return False


# The child imports only the parsers (never the caller's __main__, unlike multiprocessing spawn).
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from parsers.activity.child import "
    "serve_and_exit; serve_and_exit(int(sys.argv[2]), int(sys.argv[3]))"
)
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds parsers/


class ActivityProcess:
    """The parent's handle on the child that reads the activity shards.

    Made before the shards are known, the child starts (interpreter, imports, its inflater)
    while the parent checks and maps the zip; `begin` gives it its job, `close` without a job
    ends it. After its result, the parent may `lend` it one more job, which it then feeds with
    `send` and `receive` (the child is idle by then, with a core to itself).
    """

    def __init__(self) -> None:
        self._progress = Progress(0, None, 1 << 62)
        self._seen = 0
        self._next_pump = 0.0
        self._result: ActivityResult | None = None
        self._job: tuple | None = None  # (zip path, shards, limits) once begun
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        for fd in (job_write, result_read):
            grow_pipe(fd)  # a lent job's batches go in one write, not one per 64 KiB
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _ROOT, str(job_read), str(result_write)],
                pass_fds=(job_read, result_write),
                stdin=subprocess.DEVNULL,
                env=child_env(),
            )
        except BaseException:
            for fd in (job_write, result_read):
                os.close(fd)
            raise
        finally:
            os.close(job_read)
            os.close(result_write)
        self._connection = Connection(result_read, writable=False)
        self._jobs: Connection | None = Connection(job_write, readable=False)

    @property
    def begun(self) -> bool:
        """The child has its job."""
        return self._job is not None

    def waiting(self) -> bool:
        """The child runs and has no job yet."""
        return not self.begun and self._jobs is not None and self._process.poll() is None

    def begin(
        self, zip_path, shards, limits: ParseLimits, progress: Progress | None = None
    ) -> "ActivityProcess":
        """Send the child its job: these (source, ZipInfo) shards of that zip. Begun again on
        the same job (it was begun ahead of its run, `parsers.ahead.read_ahead`), it only
        reports its progress to `progress` from then on."""
        if progress is not None:
            self._progress = progress
        job = (str(zip_path), shards, limits)
        if self._job is not None:
            assert job == self._job  # one job per child
            return self
        assert self._jobs is not None  # not closed
        self._jobs.send(job)
        self._job = job
        return self

    def pump(self) -> None:
        """Take the child's pending progress reports without waiting (at most every
        _PUMP_SECONDS: the parent calls it after every member, and a package may hold 10,000)."""
        now = time.monotonic()
        if now < self._next_pump:
            return
        self._next_pump = now + _PUMP_SECONDS
        while self._result is None and self._connection.poll(0):
            self._receive()

    def result(self) -> ActivityResult:
        """Wait for the child's result, reporting progress at least once a second."""
        last = time.monotonic()
        while self._result is None:
            if self._connection.poll(_HEARTBEAT_SECONDS):
                self._receive()
            if time.monotonic() - last >= _HEARTBEAT_SECONDS:
                self._progress.report()
                last = time.monotonic()
        return self._result

    def lend(self, job) -> None:
        """After the result, have the child run `job.serve(receive, send)`: a picklable object
        whose class the child imports by name when it unpickles it (so this module depends on no
        caller). `send` and `receive` talk to it; ChildFailed when it is gone."""
        assert self._result is not None and self._jobs is not None  # done, not closed
        self.send(job)

    def send(self, message) -> None:
        """Send the lent job a message (ChildFailed when it is gone)."""
        assert self._jobs is not None
        try:
            self._jobs.send(message)
        except OSError as error:
            raise ChildFailed("the activity process is gone") from error

    def receive(self):
        """The lent job's next message (ChildFailed when it is gone, or silent for
        _ANSWER_SECONDS: a stopped or stuck process never holds its caller up)."""
        try:
            if not self._connection.poll(_ANSWER_SECONDS):
                raise ChildFailed("the activity process did not answer")
            return self._connection.recv()
        except (EOFError, OSError) as error:
            raise ChildFailed("the activity process is gone") from error

    def _receive(self) -> None:
        try:
            kind, payload = self._connection.recv()
        except (EOFError, OSError) as error:
            code = self._process.wait()
            raise ChildFailed(f"the activity reader died (exit code {code})") from error
        if kind == "progress":
            self._progress.advance(payload - self._seen)
            self._seen = payload
        elif kind == "error":
            raise payload
        else:
            self._result = payload

    def close(self) -> None:
        """End the child and release the pipes: one that got no job or is done ends when its job
        pipe closes (it is waited for a moment), one that still runs (abort or error) is
        stopped."""
        if self._jobs is not None:
            self._jobs.close()  # no job: its inflater ends when it sees the pipe close
            self._jobs = None
        self._connection.close()  # a child blocked writing to it gets a broken pipe
        if self._result is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # else stopped below
                self._process.wait(_EXIT_SECONDS)
        stop_process(self._process)


# Activity compresses about 7 times in real exports; a zip under 1/16 of the activity process's
# threshold cannot hold enough of it, so no process is started ahead for it.
_LEAST_RATIO = 16


def reopenable(zip_path) -> bool:
    """The zip is a file by name, which the inflater can open again."""
    return isinstance(zip_path, str | os.PathLike)


def may_need_process(zip_path, limits: ParseLimits) -> bool:
    """The zip is a file that may hold enough activity for the activity process."""
    if not reopenable(zip_path):
        return False
    try:
        size = os.path.getsize(zip_path)
    except OSError:
        return False  # opening the archive reports it
    return size * _LEAST_RATIO >= limits.activity_process_min_bytes


class SpareProcess:
    """At most one activity process started before the package that will use it is known.

    A worker keeps one between packages and the local command starts one before its imports,
    so the child's interpreter, its imports and its inflater are ready when a package's activity
    is. The spare holds no package until `begin`. Thread-safe; a forked process never takes or
    ends its parent's (it only forgets it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: ActivityProcess | None = None
        self._owner = 0

    def start(self) -> None:
        """Start a spare, unless one of this process's is waiting."""
        with self._lock:
            if self._process is not None and self._owner == os.getpid():
                if self._process.waiting():
                    return
                self._process.close()
            self._process, self._owner = ActivityProcess(), os.getpid()

    def take(self) -> ActivityProcess | None:
        """This process's waiting spare, now the caller's to begin and close; else None."""
        with self._lock:
            process, self._process = self._process, None
        if process is None or self._owner != os.getpid():
            return None
        if process.waiting():
            return process
        process.close()  # ended meanwhile (killed): the caller starts another
        return None

    def end(self) -> None:
        """End this process's spare, if any."""
        process = self.take()
        if process is not None:
            process.close()


SPARE = SpareProcess()


def process_ahead(zip_path, limits: ParseLimits) -> ActivityProcess | None:
    """For a zip that may need one, the spare if one waits, else an activity process started
    now (it gets ready while the zip is checked and mapped); None for a zip too small."""
    if not may_need_process(zip_path, limits):
        return None
    return SPARE.take() or ActivityProcess()
