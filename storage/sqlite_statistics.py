"""Sealed statistics blobs in the embedded (SQLite) backend: the `statistics` table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from storage.base import Status
from storage.sqlite_connection import Connections

BATCH_SIZE = 500


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class SQLiteStatistics:
    """Sealed statistics blobs in the `statistics` table (orphans are found in `packages_table`)."""

    def __init__(self, connections: Connections, packages_table: str = "packages"):
        self._db = connections
        self._orphans = (
            "SELECT DISTINCT s.package_id FROM statistics s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {packages_table} p WHERE p.package_id = s.package_id)"
        )
        self._current = (
            f"SELECT p.status, p.error_code, p.generation, s.blob FROM {packages_table} p "
            "LEFT JOIN statistics s ON s.package_id = p.package_id "
            "AND s.generation = p.generation AND s.view_id = ? WHERE p.package_id = ?"
        )

    def put_many(self, package_id: str, generation: int, items: Iterable[tuple[str, bytes]]) -> int:
        """Upsert `(view_id, sealed blob)` pairs, one transaction per batch; returns the count."""
        written = 0
        for batch in _batches(items, BATCH_SIZE):
            rows = [(package_id, generation, view_id, blob) for view_id, blob in batch]
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO statistics (package_id, generation, view_id, blob) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            written += len(rows)
        return written

    def get(self, package_id: str, generation: int, view_id: str) -> bytes | None:
        """One indexed read."""
        row = (
            self._db.get()
            .execute(
                "SELECT blob FROM statistics WHERE package_id = ? AND generation = ? "
                "AND view_id = ?",
                (package_id, generation, view_id),
            )
            .fetchone()
        )
        return bytes(row[0]) if row else None

    def get_current(
        self, package_id: str, view_id: str
    ) -> tuple[Status, str | None, int, bytes | None] | None:
        """The package's status, error code and published generation, and that generation's
        view (None if it has none); None when there is no such package.

        One statement, so one read transaction: the API's data reads need all four.
        """
        row = self._db.get().execute(self._current, (view_id, package_id)).fetchone()
        if row is None:
            return None
        status, error_code, generation, blob = row
        return Status(status), error_code, generation, None if blob is None else bytes(blob)

    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's documents except `keep_generation`; returns how many."""
        conn = self._db.get()
        params: tuple[str | int, ...]
        if keep_generation is None:
            sql, params = "DELETE FROM statistics WHERE package_id = ?", (package_id,)
        else:
            sql = "DELETE FROM statistics WHERE package_id = ? AND generation != ?"
            params = (package_id, keep_generation)
        return conn.execute(sql, params).rowcount

    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete one generation of the package's documents (an unpublished run's)."""
        sql = "DELETE FROM statistics WHERE package_id = ? AND generation = ?"
        return self._db.get().execute(sql, (package_id, generation)).rowcount

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have statistics but no package document (an audit, never scheduled)."""
        sql = f"{self._orphans} ORDER BY s.package_id LIMIT ?"
        return [row[0] for row in self._db.get().execute(sql, (limit,)).fetchall()]
