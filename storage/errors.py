"""Which failures mean "the store is unavailable right now": the one definition every caller uses.

Such a failure is transient: the same call may succeed in a moment (a replica-set election, a
restarted server, a SQLite writer holding the lock past the busy timeout). The API answers it with
503 STORE_UNAVAILABLE and `Retry-After`; a worker gives its package back for a later attempt;
`RetryPolicy` retries the calls that are safe to repeat. Anything else (a bug, a bad document, a
refused write) is not in this family.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# sqlite3.OperationalError messages that say "try again later", not "your SQL is wrong".
SQLITE_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)
# Error labels MongoDB servers and drivers put on errors worth retrying.
MONGO_TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError")


@functools.cache
def _mongo_connection_errors() -> tuple[type[BaseException], ...]:
    """pymongo's ConnectionFailure: AutoReconnect, NotPrimaryError, NetworkTimeout,
    ServerSelectionTimeoutError and WaitQueueTimeoutError are all subclasses."""
    try:
        from pymongo.errors import ConnectionFailure
    except ImportError:  # a deployment without pymongo has no MongoDB to lose
        return ()
    return (ConnectionFailure,)


def _has_transient_label(exc: BaseException) -> bool:
    has_label = getattr(exc, "has_error_label", None)
    return callable(has_label) and any(has_label(label) for label in MONGO_TRANSIENT_LABELS)


def is_store_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the store could not be reached or used right now (transient)."""
    if isinstance(exc, _mongo_connection_errors()):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return any(part in message for part in SQLITE_TRANSIENT_MESSAGES)
    return _has_transient_label(exc)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a call that is safe to repeat while it fails with a store-unavailable error.

    `attempts` calls in all (1: no retry), sleeping `first_delay`, then twice that, and so on,
    between them. The last failure is raised as it was.
    """

    attempts: int = 3
    first_delay: float = 0.25
    sleep: Callable[[float], None] = time.sleep

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)`, retried on transient store errors."""
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if not is_store_unavailable(exc):
                    raise
            self.sleep(delay)
            delay *= 2
        return function(*args, **kwargs)


def retried(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a repository method safe to repeat: it runs under the instance's `retry` policy."""

    @functools.wraps(method)
    def with_retries(self: Any, *args: Any, **kwargs: Any) -> T:
        return self.retry.call(method, self, *args, **kwargs)

    return with_retries
