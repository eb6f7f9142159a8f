"""Storage: the one way other folders read and write data (see `storage.base` for the contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.base import EnqueueOutcome, PackageRecord, Status, Store
from storage.link_vault import LinkVault

if TYPE_CHECKING:
    from settings import Settings

__all__ = ["EnqueueOutcome", "PackageRecord", "Status", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The configured backend with its indexes ensured: MongoDB when MONGO_URL is set, else SQLite.

    Call it once per process, after the fork (pymongo clients are not fork-safe).
    """
    links = LinkVault(settings.link_key_dir, settings.server_secret())
    if settings.mongo_url:
        import pymongo

        from storage.mongo_backend import MongoStore

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            settings.mongo_url, serverSelectionTimeoutMS=3000, connect=False
        )
        store: Store = MongoStore(client, settings.mongo_db, links)
    else:
        from storage.sqlite_backend import SQLiteStore

        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = SQLiteStore(settings.sqlite_path, links, settings.app_files_dir)
    store.ensure_indexes()
    return store
