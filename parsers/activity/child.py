"""Read the activity shards in a child process while the parent reads everything else.

The child scans the shards while its own child (parsers/archive/inflater.py) reopens the zip and
inflates them into a pipe, so inflating and scanning never share a GIL; it sends back only the
aggregated tallies. It reports inflated bytes through the pipe; the parent
turns them into its own progress, so on_progress keeps running (heartbeat and abort check).
"""

import os
import resource
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from parsers.activity.rules import SourceTally
from parsers.activity.scan import CHUNK_BYTES, read_activity_fast
from parsers.archive.inflater import InflatedMembers, MemberStream, child_env, stop_process
from parsers.limits import ParseLimits
from parsers.streams import Progress, Skipped

_HEARTBEAT_SECONDS = 1.0
_PUMP_SECONDS = 0.05


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


def read_shards(zip_path: str, shards, limits: ParseLimits, progress) -> ActivityResult:
    """Read every (source, ZipInfo) shard into one result; another process inflates them."""
    result = ActivityResult()
    members = InflatedMembers(zip_path, [info for _, info in shards])
    try:
        for source, _info in shards:
            tally = result.tallies.setdefault(source, SourceTally())
            stream = MemberStream(members, progress)
            lines = read_activity_fast(stream, tally, result.skipped, limits.max_line_bytes)
            stream.drain()
            result.files += 1
            result.lines += lines
    finally:
        members.close()
    return result


def serve(job_fd: int, result_fd: int) -> None:
    """Entry point of the child process: take the job from one pipe, answer on the other."""
    with Connection(job_fd, writable=False) as jobs:
        zip_path, shards, limits = jobs.recv()
    with Connection(result_fd, readable=False) as connection:
        _work(connection, zip_path, shards, limits)


def _work(connection: Connection, zip_path: str, shards, limits: ParseLimits) -> None:
    try:
        progress = Progress(
            1 << 62, lambda done, _total: connection.send(("progress", done)), CHUNK_BYTES
        )
        result = read_shards(zip_path, shards, limits, progress)
        result.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        connection.send(("done", result))
    except BrokenPipeError:
        raise  # the parent is gone: nobody to tell
    except BaseException as error:  # every other failure must reach the parent
        try:
            connection.send(("error", error))
        except Exception:
            connection.send(("error", ChildFailed(f"{type(error).__name__} in activity reader")))


# The child imports only the parsers (never the caller's __main__, unlike multiprocessing spawn).
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from parsers.activity.child import serve; "
    "serve(int(sys.argv[2]), int(sys.argv[3]))"
)
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds parsers/


class ActivityProcess:
    """The parent's handle on the child that reads the activity shards."""

    def __init__(self, zip_path, shards, limits: ParseLimits, progress: Progress) -> None:
        self._progress = progress
        self._seen = 0
        self._next_pump = 0.0
        self._result: ActivityResult | None = None
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _ROOT, str(job_read), str(result_write)],
                pass_fds=(job_read, result_write),
                stdin=subprocess.DEVNULL,
                env=child_env(),
            )
        finally:
            os.close(job_read)
            os.close(result_write)
        self._connection = Connection(result_read, writable=False)
        with Connection(job_write, readable=False) as jobs:
            jobs.send((str(zip_path), shards, limits))

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
        self._process.wait()
        return self._result

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
        """Stop the child if it still runs (abort or error) and release the pipe."""
        stop_process(self._process)
        self._connection.close()
