"""How a package run learns that its worker is stopping (see tasks/shutdown.py).

No Celery here: the pipeline imports it, and so does `launchers.local`, which never stops this way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class HandBackRequested(BaseException):
    """The worker is stopping: this run gives its package back, without using an attempt.

    A BaseException, like the signals it stands for: no `except Exception` on the way may turn
    it into a failed package.
    """


class StopRequest:
    """Set by a signal handler, read by the run at its progress reports."""

    def __init__(self) -> None:
        self.requested = False
        self._interruptible = False

    def request(self) -> None:
        """Ask the run to stop; raises at once the first time if it waits on the network."""
        first = not self.requested
        self.requested = True
        if first and self._interruptible:
            raise HandBackRequested

    def check(self) -> None:
        """Raise HandBackRequested if a stop was asked for."""
        if self.requested:
            raise HandBackRequested

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch (a download) that a stop request may interrupt anywhere, not only at a
        progress report: a blocked socket read would otherwise outlast the grace period."""
        self.check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
