"""The audit log's recording side: every API call becomes an `AuditRecord`, kept in memory and
written to the store in batches by a flusher thread, so a request pays a deque append.

The call's route is its template (`<package_id>`, never the raw path), its account and
organization those of the request's account token (`api.identity`; a token on an anonymous
route is read for its claims, signature and expiry checked, without a store read), else none.
Records wait at most `AUDIT_FLUSH_SECONDS`; while the store does not answer they are kept, up to
`AUDIT_BUFFER_MAX` (the oldest go first beyond, and are counted as dropped). A worker killed
outright loses its last unwritten batch. Workers fold the records into per-day counters
(`tasks.maintenance.fold_audit_log`).
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

from flask import Flask, g, has_app_context, has_request_context, request

from api import accesslog, account_tokens
from api.auth import parse_bearer
from storage.audit import AuditRecord
from storage.base import Store

log = logging.getLogger(__name__)
BATCH = 5000  # records per store write
EPOCH = date(1970, 1, 1)


class AuditRecorder:
    """The buffer of one API process and its flusher thread."""

    def __init__(
        self,
        store: Callable[[], Store],
        secret: Callable[[], bytes],
        clock: Callable[[], float],
        flush_seconds: float,
        buffer_max: int,
    ) -> None:
        self._store, self._secret, self._clock = store, secret, clock
        self.flush_seconds, self.buffer_max = flush_seconds, buffer_max
        self._records: collections.deque[AuditRecord] = collections.deque()
        self._lock = threading.Lock()  # one flush at a time (the thread, or a worker's exit)
        self.dropped = 0

    def record(self, method: str, route: str, status: int, milliseconds: float | None) -> None:
        """The access log's observer: one call, queued."""
        now = self._clock()
        account_id, organization_id = self._caller(now)
        day = _utc_day(int(now // 86400))
        self._records.append(
            AuditRecord(day, now, account_id, organization_id, route, method, status, milliseconds)
        )
        if _flusher_pid != os.getpid():
            _start_flusher()
        if len(self._records) > self.buffer_max:
            self._records.popleft()
            self.dropped += 1

    def _caller(self, now: float) -> tuple[str | None, str | None]:
        """The account and organization of the request being answered, when it has an account
        token; (None, None) for anonymous calls and outside Flask (the fast read path). The
        fast event path (`api.event_path`) has an app context whose `g` names its store."""
        if not has_app_context():
            return None, None
        principal = g.get("principal")
        if principal is not None:
            return principal.account.id, principal.organization.id
        storefront = g.get("storefront")
        if storefront is not None:  # a store's call: its organization's, no account's
            return None, storefront.organization_id
        if not has_request_context():
            return None, None
        token = parse_bearer(request.headers.get("Authorization", ""))
        if token is None or not account_tokens.looks_like_a_token(token):
            return None, None  # no bearer, or a package's UPN
        try:
            claims = account_tokens.read(token, self._secret(), now)
        except (account_tokens.TokenExpired, account_tokens.TokenInvalid):
            return None, None
        if claims.is_store:
            return None, claims.organization_id
        return claims.account_id, claims.organization_id

    def flush(self) -> int:
        """Write every queued record now; what the store refuses goes back to the front."""
        with self._lock:
            written = 0
            while self._records:
                batch = [self._records.popleft() for _ in range(min(BATCH, len(self._records)))]
                try:
                    self._store().audit.append(batch)
                except Exception as exc:  # the store is away: keep them for the next flush
                    self._records.extendleft(reversed(batch))
                    log.warning("audit records kept for later: %s", type(exc).__name__)
                    break
                written += len(batch)
            return written


@functools.lru_cache(maxsize=4)
def _utc_day(day_number: int) -> str:
    """`YYYY-MM-DD` of a day counted from the epoch (UTC days have 86,400 seconds)."""
    return (EPOCH + timedelta(days=day_number)).isoformat()


_recorder: AuditRecorder | None = None
_flusher_pid: int | None = None


def _start_flusher() -> None:
    """One flusher thread per process, writing the batches of the process's current recorder."""
    global _flusher_pid
    _flusher_pid = os.getpid()
    threading.Thread(target=_flush_forever, name="audit-log", daemon=True).start()


def _flush_forever() -> None:
    while True:
        recorder = _recorder
        time.sleep(recorder.flush_seconds if recorder else 1.0)
        if recorder is not None and recorder is _recorder:
            recorder.flush()


def _observe(method: str, route: str, status: int, milliseconds: float | None) -> None:
    if _recorder is not None:
        _recorder.record(method, route, status, milliseconds)


def init_app(app: Flask, recorder: AuditRecorder | None) -> None:
    """Record every call of this process's app (the last one built), unless turned off."""
    global _recorder
    _recorder = recorder
    if recorder is not None:
        accesslog.observe(_observe)
        app.extensions["audit"] = recorder


def flush() -> None:
    """Write what this process still holds (a gunicorn worker about to exit)."""
    if _recorder is not None:
        _recorder.flush()
