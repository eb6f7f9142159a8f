"""Helpers of the API tests: links, UPNs, a recording queue, packages seeded through the store."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from urllib.parse import quote

from api.queue import QueueUnavailable
from settings import Settings
from storage.crypto import PackageKey, package_id_for

ALLOWED_ORIGIN = "http://127.0.0.1:9"
GENEROUS_LIMIT = "100000/minute"
# Per-app memory counters: a test's limits never depend on a Redis or on another test.
TEST_CONFIG = {"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"}
UPN_LENGTH = 600
_upn_counter = itertools.count()


class Clock:
    """The API's clock (`CLOCK` in the test config), set by the test."""

    def __init__(self, iso: str) -> None:
        self.set(iso)

    def set(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


class Counted:
    """A WSGI app in front of another, counting the requests it passes on (behind the fast
    paths: those Flask answers)."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app, self.calls = wsgi_app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.wsgi_app(environ, start_response)


class RecordingQueue:
    """Records submitted package ids; `broken = True` makes it behave like a broker outage."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.recounts: list[str] = []
        self.broken = False
        self.consumed = ["packages"]

    def submit(self, package_id: str) -> None:
        if self.broken:
            raise QueueUnavailable("ConnectionRefusedError")
        self.submitted.append(package_id)

    def recount_project(self, project_id: str) -> None:
        if self.broken:
            raise QueueUnavailable("ConnectionRefusedError")
        self.recounts.append(project_id)

    def ping(self) -> bool:
        return not self.broken

    def has_consumer(self, queue: str, timeout: float) -> bool:
        """Whether `consumed` (the queues its fake workers consume) has `queue`."""
        if self.broken:
            raise QueueUnavailable("ConnectionRefusedError")
        return queue in self.consumed


def make_upn(seed: int | None = None) -> str:
    """A distinct 600-character UPN (Discord's are ~500-1000 url-safe characters)."""
    n = next(_upn_counter) if seed is None else seed
    head = f"u{n:06d}-"
    return (head + "AbC.def_0123456789-xyZ" * 40)[:UPN_LENGTH]


def discord_link(upn: str) -> str:
    """A Discord package link carrying that UPN."""
    return f"https://click.discord.com/ls/click?upn={upn}"


def bearer(upn: str) -> dict[str, str]:
    """The Authorization header of a package's owner."""
    return {"Authorization": f"Bearer {upn}"}


def path_form(link: str) -> str:
    """The path form of the process route, the link fully URL-encoded."""
    return "/api/process/" + quote(link, safe="")


class Packages:
    """Puts packages in a given state straight through the store, as a worker would."""

    def __init__(self, store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def queued(self, upn: str, at: float | None = None) -> str:
        package_id = package_id_for(upn)
        sealed = self.store.links.seal(package_id, discord_link(upn))
        self.store.packages.enqueue(package_id, sealed, time.time() if at is None else at)
        return package_id

    def claimed(self, upn: str, at: float | None = None) -> str:
        package_id = self.queued(upn, at)
        now = time.time() if at is None else at
        assert self.store.packages.claim(package_id, "token", now, 0.0) is not None
        return package_id

    def processed(self, upn: str, views: dict[str, dict], generation: int = 1) -> str:
        """A PROCESSED package whose views are sealed with its key, as the worker stores them."""
        package_id = self.claimed(upn)
        key = PackageKey(package_id, upn, self.settings.server_secret())
        items = [(key.view_id(name), key.seal(name, doc)) for name, doc in views.items()]
        self.store.statistics.put_many(package_id, generation, items)
        assert self.store.packages.publish(package_id, "token", generation, time.time())
        return package_id

    def errored(self, upn: str, code: str = "DOWNLOAD_FAILED") -> str:
        package_id = self.claimed(upn)
        assert self.store.packages.fail(package_id, "token", code, time.time())
        return package_id


ISSUED_UPNS: list[str] = []


def new_upn() -> str:
    """A fresh UPN, remembered so the leak check can look for it in every response."""
    upn = make_upn()
    ISSUED_UPNS.append(upn)
    return upn


def _period(start: str, end: str, days: int, messages: int) -> dict:
    return {
        "start": start,
        "end": end,
        "days": days,
        "messages": {
            "total": messages,
            "per_day": [0] * days,
            "per_hour": [0] * 24,
            "per_weekday": [0] * 7,
            "active_days": 1 if messages else 0,
            "average_per_active_day": float(messages),
        },
        "voice": {"minutes": 0.0, "per_day": [0.0] * days},
    }


ENTITY_PERIODS = {
    "l4w": _period("2024-04-04", "2024-05-01", 28, 3),
    "l1m": _period("2024-04-02", "2024-05-01", 30, 4),
    "ly": _period("2023-05-03", "2024-05-01", 365, 50),
    "lifetime": _period("2020-01-01", "2024-05-01", 1583, 300),
}


def sample_views(package_id: str) -> dict[str, dict]:
    """A small package's views, shaped like docs/statistics.md."""
    dm_entries = [
        {
            "user_id": str(100 + i),
            "username": f"friend{i}",
            "display_name": f"Friend {i}",
            "avatar_url": None,
            "channel_ids": [str(900 + i)],
            "messages": 30 - i,
            "voice_minutes": 0.0,
        }
        for i in range(25)
    ]
    views = {
        "about": {
            "package_id": package_id,
            "owner": {"id": "1", "username": "alice", "display_name": "Alice", "avatar_url": None},
            "package_date": "2024-05-01T12:00:00Z",
            "layout": "D",
            "folder_language": "en",
            "is_partial": False,
            "missing_sections": [],
            "activity_sources": {},
            "read": {"files": {}, "lines": {}, "skipped": {"total": 0, "by_reason": {}}},
            "processing_seconds": 1.5,
        },
        "overview": {"messages": 5230, "active_days": 310, "top": {"dms": dm_entries[:3]}},
        "top:dms:ly": {"type": "dms", "period": "ly", "entries": dm_entries},
        "guild:42": {
            "guild_id": "42",
            "name": "My server",
            "channels": [{"channel_id": "7", "name": "general", "messages": 300}],
            "periods": ENTITY_PERIODS,
        },
        "guild:unknown": {
            "guild_id": "unknown",
            "name": "Unknown server",
            "channels": [],
            "periods": ENTITY_PERIODS,
        },
        "dm:100": {
            "user_id": "100",
            "username": "friend0",
            "display_name": "Friend 0",
            "avatar_url": None,
            "channel_ids": ["900"],
            "periods": ENTITY_PERIODS,
        },
        "dm_channel:900": {"user_id": "100"},
        "channel:7": {
            "channel_id": "7",
            "name": "general",
            "kind": "guild",
            "guild_id": "42",
            "guild_name": "My server",
            "periods": ENTITY_PERIODS,
        },
        "user:1": {
            "id": "1",
            "username": "alice",
            "display_name": "Alice",
            "avatar_url": None,
            "relationship": "OWNER",
        },
    }
    for period in ("l4w", "l1m", "ly", "lifetime"):
        views[f"stats:{period}"] = {"period": period, **ENTITY_PERIODS[period]}
    return views


def record_responses(app, responses: list[bytes]) -> None:
    """Append every answer of `app` (headers, a blank line, the body) to `responses`.

    At the WSGI level, outside every middleware: the answers `api.read_path` gives before Flask
    are recorded as well as Flask's.
    """
    inner = app.wsgi_app

    def recording(environ, start_response):
        heads = []

        def start(status, headers, exc_info=None):
            heads.append("\n".join(f"{k}: {v}" for k, v in headers).encode())
            return start_response(status, headers, exc_info)

        iterable = inner(environ, start)
        try:
            body = b"".join(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        responses.append(heads[0] + b"\n\n" + body)
        return [body]

    app.wsgi_app = recording
