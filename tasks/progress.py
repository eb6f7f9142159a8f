"""Progress reports of a running package: its heartbeat, abort check and stop check."""

from __future__ import annotations

import time
from collections.abc import Callable

from storage import Status
from storage.base import PackageRepository

MIN_REPORT_SECONDS = 1.0
DOWNLOAD_SHARE = (0, 40)  # percent of the bar spent downloading
ANALYZE_SHARE = (40, 95)  # then analyzing; storing fills the rest


class ClaimLost(Exception):
    """The package was deleted or taken over: this run must stop and leave no trace."""


def _scaled(share: tuple[int, int], done: int, total: int | None) -> int:
    low, high = share
    if not total:
        return low
    return low + int((high - low) * min(done, total) / total)


class ProgressReporter:
    """Writes step and progress at most once a second; raises ClaimLost when the claim is gone."""

    def __init__(self, packages: PackageRepository, package_id: str, token: str):
        self.packages, self.package_id, self.token = packages, package_id, token
        # raises when the run must stop (its worker is stopping); set by the run
        self.stop_check: Callable[[], None] | None = None
        self.every = MIN_REPORT_SECONDS
        self.last_at = 0.0
        self.last_step: Status | None = None

    def downloading(self, done: int, total: int | None) -> None:
        """Progress callback of the download."""
        self._report(Status.DOWNLOADING, _scaled(DOWNLOAD_SHARE, done, total), done, total)

    def analyzing(self, done: int, total: int | None) -> None:
        """Progress callback of the parser (uncompressed bytes)."""
        self._report(Status.ANALYZING, _scaled(ANALYZE_SHARE, done, total), done, total)

    def storing(self, views_done: int) -> None:
        """The statistics are being sealed and written (a heartbeat, at most once a second)."""
        self._report(Status.ANALYZING, ANALYZE_SHARE[1], None, None, force=views_done == 0)

    def _report(self, step, percent, done, total, force: bool = False) -> None:
        if self.stop_check is not None:
            self.stop_check()
        now = time.time()
        if not force and step == self.last_step and now - self.last_at < self.every:
            return
        self.last_at, self.last_step = now, step
        if not self.packages.set_step(self.package_id, self.token, step, percent, done, total, now):
            raise ClaimLost
