"""What the handlers use: settings, the store (opened lazily, once per process), the queue, a clock.

`create_app` puts one `Services` on `app.extensions["dumpus"]`; handlers reach it through the
accessors below, so nothing is a module-level global and tests inject their own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import current_app

from settings import Settings
from storage.key_cache import PackageKeyCache

if TYPE_CHECKING:
    from api.queue import PackageQueue
    from storage.base import Store
    from storage.crypto import PackageKey
    from storage.shoppers import ShopperVault

EXTENSION = "dumpus"


log = logging.getLogger(__name__)
INDEX_RETRY_SECONDS = 30.0


class Services:
    """The app's collaborators; the store is opened on first use, again after a fork."""

    def __init__(
        self,
        settings: Settings,
        queue: PackageQueue,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.clock = clock
        self._store = store
        self._store_pid = os.getpid() if store is not None else None
        self._injected = store is not None
        self._lock = threading.Lock()
        self._server_secret: bytes | None = None
        self._vault: ShopperVault | None = None
        self._vault_pid: int | None = None
        self.package_keys = PackageKeyCache()  # this process's memory only (storage.key_cache)

    def server_secret(self) -> bytes:
        """The server secret, asked of the settings once (every data read needs it)."""
        # Settings already reads a secret file once per process; this skips its path handling.
        # A failure is not kept: the next request asks again.
        if self._server_secret is None:
            self._server_secret = self.settings.server_secret()
        return self._server_secret

    def store(self) -> Store:
        """The store; `open_store(settings)` the first time it is needed in this process."""
        if self._injected or (self._store is not None and self._store_pid == os.getpid()):
            return self._store  # type: ignore[return-value]
        with self._lock:
            if self._store is None or self._store_pid != os.getpid():
                from storage import open_store  # the backend is chosen at run time

                store = open_store(self.settings, role="api", ensure_indexes=False)
                self._ensure_indexes(store)
                self._store, self._store_pid = store, os.getpid()
        return self._store

    def shopper_vault(self) -> ShopperVault:
        """Shoppers' personal information (`storage.shoppers`), opened on first use in this
        process, its indexes ensured as the store's are."""
        if self._vault is not None and self._vault_pid == os.getpid():
            return self._vault
        with self._lock:
            if self._vault is None or self._vault_pid != os.getpid():
                from storage import open_shopper_vault

                vault = open_shopper_vault(self.settings, role="api", ensure_indexes=False)
                self._ensure_indexes(vault)
                self._vault, self._vault_pid = vault, os.getpid()
        return self._vault

    def _ensure_indexes(self, store: Store | ShopperVault) -> None:
        """SQLite's tables at once (local and quick); MongoDB's indexes in the background,
        tried again every `INDEX_RETRY_SECONDS` while it does not answer: a request never waits
        on a server that is away (it gets 503 STORE_UNAVAILABLE from its own operation)."""
        if not self.settings.mongo_url:
            store.ensure_indexes()
            return
        threading.Thread(
            target=_ensure_until_done, args=(store,), name="ensure-indexes", daemon=True
        ).start()


def _ensure_until_done(store: Store | ShopperVault) -> None:
    while True:
        try:
            store.ensure_indexes()
            return
        except Exception as exc:  # the store is away: try again later
            log.warning("store indexes not ensured yet: %s", type(exc).__name__)
            time.sleep(INDEX_RETRY_SECONDS)


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION]


def get_settings() -> Settings:
    """The current app's settings."""
    return services().settings


def server_secret() -> bytes:
    """The current app's server secret."""
    return services().server_secret()


def package_key(package_id: str, key_material: str) -> PackageKey:
    """The package's key, derived from its owner's key material (kept in a bounded LRU).

    Call it only once `key_material` was checked to own `package_id` (`api.auth.require_owner`).
    """
    current = services()
    return current.package_keys.get(package_id, key_material, current.server_secret())


def forget_package_key(package_id: str) -> None:
    """Drop the package's key from this process's cache (the package is deleted)."""
    services().package_keys.forget(package_id)


def get_store() -> Store:
    """The current app's store (opened lazily)."""
    return services().store()


def get_shopper_vault() -> ShopperVault:
    """The current app's shopper vault (opened lazily)."""
    return services().shopper_vault()


def get_queue() -> Any:
    """The current app's package queue."""
    return services().queue


def now() -> float:
    """The current time, UTC epoch seconds (injectable for tests)."""
    return services().clock()
