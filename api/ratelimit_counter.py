"""Fixed-window counters of the rate limits, shared by every process, with leases and a fallback.

Counters keep the `limits` library's storages (`storage_from_string`), keys (`key_for`) and fixed
window (a key's first hit starts the window; the key expires with it), so `limits` reads them for
`Retry-After`. With a Redis storage, a request the process cannot admit from a lease costs one
round trip: an EVALSHA on a connection kept by the thread (redis-py's client and `limits`' layers
cost more than the rest of a data read), which takes a *lease* of `lease_size(limit)` requests.

Leases: the round trip is what a gthread worker pays most for (the thread sleeps on the reply,
hands the GIL over and switches to Redis and back: about 350 us of CPU a request measured under
load, ten times the command), so one round trip counts up to 1/100 of the limit (at most
`LEASE_MAX`) in Redis at once, and the process admits that many requests of the same client from
memory until the window ends. The shared count includes every leased request, so a client never
gets more than its limit across all processes; in exchange it may be refused up to
`lease_size - 1` requests early per other process holding an unused lease (1% of the limit per
process). Limits under 200 per window take leases of one: exact, one round trip per request.
Leases pay off for clients that send many requests in a window; a client's first request of a
window always makes the round trip.

A storage error switches this process to counting in its own memory (logged once) and the storage
is tried again with a backoff doubling from 1 s to 60 s: limiting degrades, serving does not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Any

from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage, Storage, storage_from_string
from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 60.0
LEASE_SHARE = 100  # a lease is at most 1/100 of its limit...
LEASE_MAX = 64  # ...and at most this many requests
MAX_LEASES = 4096  # counters with a lease, per process (one per client, budget and limit)
# `limits`' increment-and-expire, by `ARGV[2]` requests, also answering the window's time left.
TAKE_SCRIPT = b"""
local taken = tonumber(ARGV[2])
local count = redis.call('incrby', KEYS[1], taken)
if count == taken then redis.call('expire', KEYS[1], ARGV[1]) end
return {count, redis.call('pttl', KEYS[1])}
"""


def lease_size(item: RateLimitItem) -> int:
    """Requests of `item` one round trip counts: 1/`LEASE_SHARE` of it, 1 to `LEASE_MAX`."""
    return max(1, min(LEASE_MAX, item.amount // LEASE_SHARE))


class RedisWindows:
    """Fixed-window counters in Redis, `TAKE_SCRIPT` sent on one connection per thread."""

    def __init__(self, storage: RedisStorage) -> None:
        self._storage = storage
        self._pool = storage.storage.connection_pool
        self._sha = hashlib.sha1(TAKE_SCRIPT, usedforsecurity=False).hexdigest()
        self._local = threading.local()

    def take(self, key: str, expiry: int, amount: int) -> tuple[int, float]:
        """Add `amount` to the counter `key`: its new count and the seconds its window has left."""
        conn = self._connection()
        command = ("EVALSHA", self._sha, 1, self._storage.prefixed_key(key), expiry, amount)
        try:
            count, milliseconds = self._call(conn, command)
        except NoScriptError:  # a fresh or flushed server: load the script, then again
            self._call(conn, ("SCRIPT", "LOAD", TAKE_SCRIPT))
            count, milliseconds = self._call(conn, command)
        return int(count), (milliseconds if milliseconds >= 0 else expiry * 1000) / 1000

    @staticmethod
    def _call(conn: Any, command: tuple) -> Any:
        try:
            conn.send_packed_command(conn.pack_command(*command), check_health=False)
            return conn.read_response()
        except NoScriptError:
            raise  # a whole reply was read: the connection is still in step
        except BaseException:
            conn.disconnect()  # a reply left unread would answer the next command
            raise

    def _connection(self) -> Any:
        """This thread's connection (opened on first use, again in a forked child)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._pool.connection_class(**self._pool.connection_kwargs)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn


class Leases:
    """Requests already counted in the shared storage that this process may still admit."""

    def __init__(self, limit: int = MAX_LEASES) -> None:
        self.limit = limit
        self._leases: dict[str, list[float]] = {}  # key: [requests left, monotonic end]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._leases)

    def use(self, key: str) -> bool:
        """Admit one request of `key` from its lease, if it has one left in its window."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                return False
            if lease[0] < 1 or lease[1] <= time.monotonic():
                del self._leases[key]
                return False
            lease[0] -= 1
            return True

    def add(self, key: str, requests: int, ends: float) -> None:
        """Keep `requests` of `key` until `ends` (monotonic); dropped when the table is full."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease[1] > time.monotonic():
                # Another thread's lease of the same window (a live lease ends before its key
                # does, so this one came from the same key): add up, keep the earlier end.
                lease[0] += requests
                lease[1] = min(lease[1], ends)
                return
            if key not in self._leases and len(self._leases) >= self.limit:
                now = time.monotonic()
                for old in [k for k, (left, end) in self._leases.items() if left < 1 or end <= now]:
                    del self._leases[old]
                if len(self._leases) >= self.limit:
                    return  # they stay counted, unused: the client may be refused early
            self._leases[key] = [requests, ends]


class WindowCounter:
    """Fixed-window counters in a shared storage, in this process's memory while it fails."""

    def __init__(self, uri: str, **options: Any) -> None:
        storage = storage_from_string(uri, **options)
        if not isinstance(storage, Storage):
            raise ValueError("rate limits need a synchronous `limits` storage")
        self.storage: Storage = storage
        self.local = MemoryStorage()
        self.leases = Leases()
        # Exactly RedisStorage: sentinel and cluster storages find their server through their pool.
        self.windows: RedisWindows | None = None
        if isinstance(storage, RedisStorage) and type(storage) is RedisStorage:
            self.windows = RedisWindows(storage)
        self.storage_dead = False
        self._retry_at = 0.0
        self._backoff = FIRST_RETRY_SECONDS

    def hit(self, item: RateLimitItem, key: str) -> bool:
        """Count one hit of `item` on the counter `key` (its `key_for`); False when over it."""
        if self.leases.use(key):
            return True
        if self.storage_dead and not self._recovered():
            return self._hit_local(item, key)
        try:
            return self._hit_shared(item, key)
        except Exception as exc:  # any storage failure: count here rather than fail the request
            self._storage_failed(exc)
            return self._hit_local(item, key)

    def _hit_local(self, item: RateLimitItem, key: str) -> bool:
        return self.local.incr(key, item.get_expiry()) <= item.amount

    def _hit_shared(self, item: RateLimitItem, key: str) -> bool:
        if self.windows is None:  # no fast path: `limits`' own increment, one per request
            return self.storage.incr(key, item.get_expiry()) <= item.amount
        size, started = lease_size(item), time.monotonic()
        count, seconds_left = self.windows.take(key, item.get_expiry(), size)
        admitted = min(size, item.amount - (count - size))
        if admitted > 1:
            # From before the round trip: the lease never outlives the window in Redis.
            self.leases.add(key, admitted - 1, started + seconds_left)
        return admitted > 0

    def reset_time(self, key: str) -> float:
        """When the current window of the counter `key` ends (epoch seconds)."""
        return (self.local if self.storage_dead else self.storage).get_expiry(key)

    def _storage_failed(self, exc: Exception) -> None:
        if not self.storage_dead:
            log.warning(
                "rate limit storage unreachable (%s): counting in process memory",
                type(exc).__name__,
            )
        self.storage_dead = True
        self._retry_at = time.monotonic() + self._backoff

    def _recovered(self) -> bool:
        """Whether the storage answers again; asked at most once per backoff period."""
        if time.monotonic() < self._retry_at:
            return False
        self._retry_at = time.monotonic() + self._backoff  # one thread asks, the others wait
        try:
            ok = bool(self.storage.check())
        except Exception:
            ok = False
        if not ok:
            self._backoff = min(self._backoff * 2, LAST_RETRY_SECONDS)
            return False
        log.info("rate limit storage recovered: counting in it again")
        self.storage_dead, self._backoff = False, FIRST_RETRY_SECONDS
        return True
