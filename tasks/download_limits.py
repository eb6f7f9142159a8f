"""The limits of a package download and the error that ends one, without the HTTP client.

`tasks.pipeline` needs these for every run; `tasks.download` (requests, urllib3) is loaded only
by the runs that download, never by `launchers.local`.
"""

from __future__ import annotations

from dataclasses import dataclass

BANDWIDTH_EXCEEDED = (
    "BANDWIDTH_EXCEEDED"  # a metered download that does not fit the day's allowance
)


class DownloadError(Exception):
    """A download that cannot succeed; `code` is the package's error code."""

    def __init__(self, code: str, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class DownloadLimits:
    """The limits of one download (from settings)."""

    max_bytes: int
    connect_timeout: float
    read_timeout: float
    max_seconds: float
    allowed_origins: tuple[str, ...] = ()
