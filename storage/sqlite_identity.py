"""Identity on the embedded backend: four tables beside the packages, in the same file."""

from __future__ import annotations

import sqlite3
import uuid

from storage.identity import (
    PREFIX_LENGTH,
    Account,
    ApiKey,
    DuplicateEmail,
    Organization,
    Page,
    Storefront,
    UnknownOrganization,
    hash_api_key,
    normalize_email,
)
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    is_superuser INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_organization ON accounts (organization_id, created_at);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL,
    last_used_day TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account_id, created_at);
CREATE TABLE IF NOT EXISTS storefronts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    is_active INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS storefronts_organization ON storefronts (organization_id, created_at);
"""
# Added to api_keys after its first layout (ensure_schema adds it to an older file).
STOREFRONT_KEYS = """
ALTER TABLE api_keys ADD COLUMN storefront_id TEXT REFERENCES storefronts (id);
"""
STOREFRONT_KEYS_INDEX = """
CREATE INDEX IF NOT EXISTS api_keys_storefront ON api_keys (storefront_id, created_at);
"""

_ORGANIZATION = "id, name, is_active, created_at"
_ACCOUNT = "id, email, username, organization_id, is_superuser, is_active, created_at"
_KEY = "id, account_id, name, prefix, created_at, revoked_at, last_used_day, storefront_id"
_STOREFRONT = "id, name, organization_id, is_active, created_at"


def _organization(row: tuple) -> Organization:
    return Organization(row[0], row[1], bool(row[2]), row[3])


def _account(row: tuple) -> Account:
    return Account(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6])


def _key(row: tuple) -> ApiKey:
    return ApiKey(*row)


def _storefront(row: tuple) -> Storefront:
    return Storefront(row[0], row[1], row[2], bool(row[3]), row[4])


def _require_organization(conn: sqlite3.Connection, organization_id: str) -> None:
    if not conn.execute("SELECT 1 FROM organizations WHERE id = ?", (organization_id,)).fetchone():
        raise UnknownOrganization(organization_id)


def _organization_page(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    organization_id: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple], int]:
    """One page of a table's rows, oldest first, of one organization or all; and their total."""
    where, params = (
        ("WHERE organization_id = ?", (organization_id,)) if organization_id else ("", ())
    )
    rows = conn.execute(
        f"SELECT {columns} FROM {table} {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    (total,) = conn.execute(f"SELECT COUNT(*) FROM {table} {where}", params).fetchone()
    return rows, total


class SQLiteOrganizations:
    def __init__(self, connections: Connections):
        self._db = connections

    def create(self, name: str, now: float) -> Organization:
        organization = Organization(str(uuid.uuid4()), name, True, now)
        self._db.get().execute(
            f"INSERT INTO organizations ({_ORGANIZATION}) VALUES (?, ?, 1, ?)",
            (organization.id, name, now),
        )
        return organization

    def get(self, organization_id: str) -> Organization | None:
        row = (
            self._db.get()
            .execute(f"SELECT {_ORGANIZATION} FROM organizations WHERE id = ?", (organization_id,))
            .fetchone()
        )
        return _organization(row) if row else None

    def list(self, offset: int, limit: int) -> Page[Organization]:
        conn = self._db.get()
        rows = conn.execute(
            f"SELECT {_ORGANIZATION} FROM organizations ORDER BY created_at, id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        (total,) = conn.execute("SELECT COUNT(*) FROM organizations").fetchone()
        return Page([_organization(row) for row in rows], total)

    def set_active(self, organization_id: str, active: bool) -> bool:
        cursor = self._db.get().execute(
            "UPDATE organizations SET is_active = ? WHERE id = ?", (int(active), organization_id)
        )
        return cursor.rowcount == 1


class SQLiteAccounts:
    def __init__(self, connections: Connections):
        self._db = connections

    def create(
        self, email: str, username: str, organization_id: str, is_superuser: bool, now: float
    ) -> Account:
        account = Account(
            str(uuid.uuid4()), normalize_email(email), username, organization_id,
            is_superuser, True, now,
        )  # fmt: skip
        with self._db.transaction() as conn:
            _require_organization(conn, organization_id)
            try:
                conn.execute(
                    f"INSERT INTO accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?, 1, ?)",
                    (account.id, account.email, username, organization_id, int(is_superuser), now),
                )
            except sqlite3.IntegrityError:
                raise DuplicateEmail(account.email) from None
        return account

    def get(self, account_id: str) -> Account | None:
        return self._one("id", account_id)

    def get_by_email(self, email: str) -> Account | None:
        return self._one("email", normalize_email(email))

    def _one(self, column: str, value: str) -> Account | None:
        row = (
            self._db.get()
            .execute(f"SELECT {_ACCOUNT} FROM accounts WHERE {column} = ?", (value,))
            .fetchone()
        )
        return _account(row) if row else None

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Account]:
        rows, total = _organization_page(
            self._db.get(), "accounts", _ACCOUNT, organization_id, offset, limit
        )
        return Page([_account(row) for row in rows], total)

    def set_active(self, account_id: str, active: bool) -> bool:
        cursor = self._db.get().execute(
            "UPDATE accounts SET is_active = ? WHERE id = ?", (int(active), account_id)
        )
        return cursor.rowcount == 1


class SQLiteApiKeys:
    def __init__(self, connections: Connections):
        self._db = connections

    def create(
        self, account_id: str, name: str, key: str, now: float, storefront_id: str | None = None
    ) -> ApiKey:
        prefix = key[:PREFIX_LENGTH]
        record = ApiKey(
            str(uuid.uuid4()), account_id, name, prefix, now, storefront_id=storefront_id
        )
        self._db.get().execute(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, created_at,"
            " storefront_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.id, account_id, name, prefix, hash_api_key(key), now, storefront_id),
        )
        return record

    def find(self, key: str) -> ApiKey | None:
        return self._one("key_hash", hash_api_key(key))

    def get(self, key_id: str) -> ApiKey | None:
        return self._one("id", key_id)

    def _one(self, column: str, value: str) -> ApiKey | None:
        row = (
            self._db.get()
            .execute(f"SELECT {_KEY} FROM api_keys WHERE {column} = ?", (value,))
            .fetchone()
        )
        return _key(row) if row else None

    def list_for_storefront(self, storefront_id: str) -> list[ApiKey]:
        return self._many("storefront_id = ?", storefront_id)

    def _many(self, where: str, value: str) -> list[ApiKey]:
        rows = (
            self._db.get()
            .execute(f"SELECT {_KEY} FROM api_keys WHERE {where} ORDER BY created_at, id", (value,))
            .fetchall()
        )
        return [_key(row) for row in rows]

    def list(self, account_id: str) -> list[ApiKey]:
        return self._many("account_id = ? AND storefront_id IS NULL", account_id)

    def revoke(self, key_id: str, now: float) -> bool:
        cursor = self._db.get().execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
        )
        return cursor.rowcount == 1

    def mark_used(self, key_id: str, day: str) -> None:
        self._db.get().execute(
            "UPDATE api_keys SET last_used_day = ? WHERE id = ?"
            " AND (last_used_day IS NULL OR last_used_day < ?)",
            (day, key_id, day),
        )


class SQLiteStorefronts:
    def __init__(self, connections: Connections):
        self._db = connections

    def create(self, name: str, organization_id: str, now: float) -> Storefront:
        storefront = Storefront(str(uuid.uuid4()), name, organization_id, True, now)
        with self._db.transaction() as conn:
            _require_organization(conn, organization_id)
            conn.execute(
                f"INSERT INTO storefronts ({_STOREFRONT}) VALUES (?, ?, ?, 1, ?)",
                (storefront.id, name, organization_id, now),
            )
        return storefront

    def get(self, storefront_id: str) -> Storefront | None:
        row = (
            self._db.get()
            .execute(f"SELECT {_STOREFRONT} FROM storefronts WHERE id = ?", (storefront_id,))
            .fetchone()
        )
        return _storefront(row) if row else None

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Storefront]:
        rows, total = _organization_page(
            self._db.get(), "storefronts", _STOREFRONT, organization_id, offset, limit
        )
        return Page([_storefront(row) for row in rows], total)

    def update(
        self, storefront_id: str, name: str | None = None, is_active: bool | None = None
    ) -> Storefront | None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE storefronts SET name = COALESCE(?, name),"
                " is_active = COALESCE(?, is_active) WHERE id = ?",
                (name, None if is_active is None else int(is_active), storefront_id),
            )
            return self.get(storefront_id)

    def delete(self, storefront_id: str) -> bool:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM api_keys WHERE storefront_id = ?", (storefront_id,))
            cursor = conn.execute("DELETE FROM storefronts WHERE id = ?", (storefront_id,))
        return cursor.rowcount == 1


class SQLiteIdentity:
    """The four repositories over one connection pool."""

    def __init__(self, connections: Connections):
        self.organizations = SQLiteOrganizations(connections)
        self.accounts = SQLiteAccounts(connections)
        self.api_keys = SQLiteApiKeys(connections)
        self.storefronts = SQLiteStorefronts(connections)
        self._connections = connections

    def ensure_schema(self) -> None:
        conn = self._connections.get()
        conn.executescript(SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(api_keys)")}
        if "storefront_id" not in columns:
            try:
                conn.executescript(STOREFRONT_KEYS)
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
        conn.executescript(STOREFRONT_KEYS_INDEX)
