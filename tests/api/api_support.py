"""Helpers of the API tests: links, UPNs, a recording queue, packages seeded through the store."""

from __future__ import annotations

import itertools
import time
from urllib.parse import quote

from api.queue import QueueUnavailable
from settings import Settings
from storage.crypto import LinkSealer, PackageKey, package_id_for

ALLOWED_ORIGIN = "http://127.0.0.1:9"
UPN_LENGTH = 600
_upn_counter = itertools.count()


class RecordingQueue:
    """Records submitted package ids; `broken = True` makes it behave like a broker outage."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.broken = False

    def submit(self, package_id: str) -> None:
        if self.broken:
            raise QueueUnavailable("ConnectionRefusedError")
        self.submitted.append(package_id)

    def ping(self) -> bool:
        return not self.broken


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
        sealed = LinkSealer(self.settings.server_secret()).seal(package_id, discord_link(upn))
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
