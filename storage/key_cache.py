"""Derived package keys kept in the API process's memory, so a read derives no key.

Deriving a `PackageKey` costs three HMAC-SHA256 calls, and each one releases the GIL in CPython's
OpenSSL binding: in a gthread worker under load every release is a hand-over to another thread and
back, which cost more than the hashing (measured: about a tenth of a data read's CPU). The API
therefore keeps the keys of recently read packages in a bounded LRU, in memory only:

- an entry is found by the package id *and* a SHA-256 fingerprint of the key material (the UPN)
  and the server secret, so only the key material that derived a key finds it (the ownership
  check still runs first on every request);
- at most `MAX_KEYS` entries, each dropped `MAX_AGE_SECONDS` after it was derived;
- nothing of it is ever written to disk, the store, a log or a message; `forget(package_id)` drops
  a package's key (its deletion).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from storage.crypto import PackageKey

MAX_KEYS = 1024
MAX_AGE_SECONDS = 600.0


def fingerprint(key_material: str, server_secret: bytes) -> bytes:
    """What tells two key materials apart in the cache (hashlib: no GIL release for short input)."""
    return hashlib.sha256(server_secret + b"\x00" + key_material.encode()).digest()


class PackageKeyCache:
    """A bounded, expiring LRU of `PackageKey`s, safe to share between a process's threads."""

    def __init__(
        self,
        max_keys: int = MAX_KEYS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_keys = max_keys
        self.max_age = max_age
        self._clock = clock
        self._keys: OrderedDict[tuple[str, bytes], tuple[float, PackageKey]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, package_id: str, key_material: str, server_secret: bytes) -> PackageKey:
        """The package's key: from the cache, else derived (and kept)."""
        entry = (package_id, fingerprint(key_material, server_secret))
        now = self._clock()
        with self._lock:
            found = self._keys.get(entry)
            if found is not None and found[0] > now:
                self._keys.move_to_end(entry)
                return found[1]
        key = PackageKey(package_id, key_material, server_secret)  # outside the lock
        with self._lock:
            self._keys[entry] = (now + self.max_age, key)
            self._keys.move_to_end(entry)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        return key

    def forget(self, package_id: str) -> None:
        """Drop every key of the package (it was deleted)."""
        with self._lock:
            for entry in [e for e in self._keys if e[0] == package_id]:
                del self._keys[entry]

    def clear(self) -> None:
        """Drop every key."""
        with self._lock:
            self._keys.clear()
