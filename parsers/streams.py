"""Streaming helpers: progress reporting, skipped-line counts, bounded line reading (zip members
as counted streams: `parsers.archive.members`)."""

from collections import Counter
from collections.abc import Callable, Iterator

READ_BUFFER = 1024 * 1024


class Progress:
    """Counts inflated bytes and reports them to an optional callback, throttled."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None, every: int) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._every = every
        self._last = 0
        # Set when the callback raised: its exception must propagate unchanged.
        self.aborting = False

    def advance(self, count: int) -> None:
        """Add inflated bytes; report when enough have passed since the last report."""
        self.done += count
        if self._callback is not None and self.done - self._last >= self._every:
            self.report()

    def report(self) -> None:
        """Report the current position now."""
        self._last = self.done
        if self._callback is not None:
            try:
                self._callback(min(self.done, self.total), self.total)
            except BaseException:
                self.aborting = True
                raise


class Skipped:
    """Counts skipped records by reason."""

    def __init__(self) -> None:
        self.by_reason: Counter[str] = Counter()

    def add(self, reason: str, count: int = 1) -> None:
        """Count skipped records for one reason."""
        self.by_reason[reason] += count

    def as_dict(self) -> dict:
        """Return the `about.read.skipped` shape."""
        reasons = {key: value for key, value in sorted(self.by_reason.items()) if value}
        return {"total": sum(reasons.values()), "by_reason": reasons}


def iter_lines(stream, max_bytes: int) -> Iterator[bytes | None]:
    """Yield each line of a binary stream; None for a line over max_bytes (never held whole)."""
    readline = stream.readline
    while True:
        line = readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while True:
                rest = readline(READ_BUFFER)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def read_small(stream, max_bytes: int) -> bytes | None:
    """Read a whole small member, or return None when it is bigger than max_bytes."""
    # Read in chunks: read(max_bytes + 1) would allocate the whole limit up front.
    data = bytearray()
    while len(data) <= max_bytes:
        chunk = stream.read(min(READ_BUFFER, max_bytes + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    return None if len(data) > max_bytes else bytes(data)
