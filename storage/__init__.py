"""Storage: the one way other folders read and write data (see `storage.base` for the contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from storage.base import EnqueueOutcome, PackageRecord, Status, Store
from storage.errors import RetryPolicy
from storage.link_vault import LinkVault
from storage.shoppers import ShopperCipher, ShopperVault
from storage.uploads import UploadFiles

if TYPE_CHECKING:
    from settings import Settings

__all__ = [
    "EnqueueOutcome",
    "PackageRecord",
    "Status",
    "Store",
    "open_shopper_vault",
    "open_store",
]

Role = Literal["api", "worker"]


def mongo_client_options(settings: Settings, role: Role) -> dict[str, Any]:
    """The MongoClient keyword arguments of a production deployment, for one kind of process.

    Majority, journaled writes survive a failover; the driver retries a read or a write once
    after a network error or an election. Workers wait for a primary long enough to ride out an
    election; the API gives up sooner and answers 503 STORE_UNAVAILABLE instead.
    """
    selection = (
        settings.mongo_api_server_selection_timeout
        if role == "api"
        else settings.mongo_server_selection_timeout
    )
    return {
        "w": "majority",
        "journal": True,
        "retryWrites": True,
        "retryReads": True,
        "serverSelectionTimeoutMS": int(selection * 1000),
        "connectTimeoutMS": int(settings.mongo_connect_timeout * 1000),
        "appname": f"dumpus-{role}",
        "connect": False,  # nothing is sent before the first operation, after the fork
    }


def open_store(settings: Settings, role: Role = "worker", ensure_indexes: bool = True) -> Store:
    """The configured backend with its indexes ensured: MongoDB when MONGO_URL is set, else SQLite.

    `role` is the kind of process ("api" or "worker", beat and commands included): it names the
    MongoDB connection and picks its server-selection timeout. The database is the one named in
    MONGO_URL's path, else MONGO_DB. Call it once per process, after the fork (pymongo clients
    are not fork-safe). Without `ensure_indexes` the caller ensures them (`api.services`: in
    the background, so that no request waits on a MongoDB that is away).
    """
    uploads = UploadFiles(settings.uploads_dir)
    links = LinkVault(settings.link_key_dir, settings.server_secret(), uploads)
    if settings.mongo_url:
        import pymongo

        from storage.mongo_backend import MongoStore

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            settings.mongo_url, **mongo_client_options(settings, role)
        )
        database = client.get_default_database(default=settings.mongo_db)
        retry = RetryPolicy(attempts=settings.mongo_retry_attempts)
        store: Store = MongoStore(database, links=links, retry=retry)
    else:
        from storage.sqlite_backend import SQLiteStore

        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = SQLiteStore(settings.sqlite_path, links, settings.app_files_dir)
    if ensure_indexes:
        store.ensure_indexes()
    return store


def open_shopper_vault(
    settings: Settings, role: Role = "worker", ensure_indexes: bool = True
) -> ShopperVault:
    """Shoppers' personal information, in a store of its own (`storage.shoppers`): the MongoDB
    database of PII_MONGO_URL (its path's database, else `<MONGO_DB>_pii`); else, with MONGO_URL,
    that server's `<database>_pii` database; else `pii.sqlite3` under DATA_DIR. Without
    `ensure_indexes` the caller ensures them (as `open_store`)."""
    cipher = ShopperCipher(settings.server_secret())
    url = settings.pii_mongo_url or settings.mongo_url
    if url:
        import pymongo

        from storage.mongo_shoppers import MongoShopperVault

        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            url, **mongo_client_options(settings, role)
        )
        vault: ShopperVault = MongoShopperVault(
            client[pii_database_name(settings)], cipher, close=client.close
        )
    else:
        from storage.sqlite_shoppers import SQLiteShopperVault

        settings.pii_sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        vault = SQLiteShopperVault(settings.pii_sqlite_path, cipher)
    if ensure_indexes:
        vault.ensure_indexes()
    return vault


def pii_database_name(settings: Settings) -> str:
    """The shopper vault's MongoDB database (see `open_shopper_vault`)."""
    from pymongo.uri_parser import parse_uri

    if settings.pii_mongo_url:
        return parse_uri(settings.pii_mongo_url)["database"] or f"{settings.mongo_db}_pii"
    return f"{parse_uri(settings.mongo_url)['database'] or settings.mongo_db}_pii"
