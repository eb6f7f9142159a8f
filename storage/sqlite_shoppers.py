"""The shopper vault on the embedded backend: its own SQLite file, apart from the main store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.shoppers import (
    DuplicateShopper,
    Shopper,
    ShopperCipher,
    ShopperFields,
    changed,
    new_shopper_id,
)
from storage.sqlite_connection import Connections

SCHEMA = """
CREATE TABLE IF NOT EXISTS shoppers (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    email_hash TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (store_id, email_hash)
);
"""
_COLUMNS = "id, store_id, sealed, created_at"
_IDS_PER_QUERY = 500  # well under SQLite's bound on parameters


class SQLiteShopperVault:
    def __init__(self, path: Path, cipher: ShopperCipher):
        self.path = Path(path)
        self._db = Connections(self.path)
        self._cipher = cipher

    def ensure_indexes(self) -> None:
        self._db.get().executescript(SCHEMA)

    def create(self, store_id: str, shopper_fields: ShopperFields, now: float) -> Shopper:
        shopper = Shopper(new_shopper_id(), store_id, shopper_fields, now)
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO shoppers (id, store_id, email_hash, sealed, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (*self._sealed(shopper), now),
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateShopper(store_id) from exc
        return shopper

    def get(self, store_id: str, shopper_id: str) -> Shopper | None:
        return self._one("id = ? AND store_id = ?", (shopper_id, store_id))

    def find_by_email(self, store_id: str, email: str) -> Shopper | None:
        email_hash = self._cipher.email_hash(store_id, email)
        return self._one("store_id = ? AND email_hash = ?", (store_id, email_hash))

    def update(self, store_id: str, shopper_id: str, changes: dict[str, str]) -> Shopper | None:
        with self._db.transaction():
            current = self.get(store_id, shopper_id)
            if current is None:
                return None
            updated = Shopper(
                current.id, store_id, changed(current.fields, changes), current.created_at
            )
            _id, _store, email_hash, sealed = self._sealed(updated)
            try:
                self._db.get().execute(
                    "UPDATE shoppers SET email_hash = ?, sealed = ? WHERE id = ?",
                    (email_hash, sealed, shopper_id),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateShopper(store_id) from exc
        return updated

    def known_ids(self, store_id: str, shopper_ids: list[str]) -> set[str]:
        wanted, known = sorted(set(shopper_ids)), set[str]()
        conn = self._db.get()
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT id FROM shoppers WHERE store_id = ? AND id IN ({marks})",
                (store_id, *chunk),
            )
            known.update(row[0] for row in rows)
        return known

    def delete(self, store_id: str, shopper_id: str) -> bool:
        cursor = self._db.get().execute(
            "DELETE FROM shoppers WHERE id = ? AND store_id = ?", (shopper_id, store_id)
        )
        return cursor.rowcount > 0

    def delete_store(self, store_id: str) -> int:
        return (
            self._db.get().execute("DELETE FROM shoppers WHERE store_id = ?", (store_id,)).rowcount
        )

    def count(self, store_id: str) -> int:
        (found,) = (
            self._db.get()
            .execute("SELECT COUNT(*) FROM shoppers WHERE store_id = ?", (store_id,))
            .fetchone()
        )
        return found

    def close(self) -> None:
        self._db.close()

    def _sealed(self, shopper: Shopper) -> tuple[str, str, str, bytes]:
        cipher = self._cipher
        return (
            shopper.id,
            shopper.store_id,
            cipher.email_hash(shopper.store_id, shopper.fields.email),
            cipher.seal(shopper.store_id, shopper.id, shopper.fields),
        )

    def _one(self, where: str, parameters: tuple) -> Shopper | None:
        row = (
            self._db.get()
            .execute(f"SELECT {_COLUMNS} FROM shoppers WHERE {where}", parameters)
            .fetchone()
        )
        if row is None:
            return None
        shopper_id, store_id, sealed, created_at = row
        return Shopper(
            shopper_id, store_id, self._cipher.open(store_id, shopper_id, sealed), created_at
        )
