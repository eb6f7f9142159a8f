"""App data files in the embedded backend: ciphertext files under one folder, records in SQLite.

Each generation's file is `<folder>/<package id>.<generation>.bin` (0600 in a 0700 folder),
written to a temporary name, synced and renamed, so it appears whole or not at all. Its record
(`app_files` table: IV, size, or why there is no file) is written first and removed first, so a
file whose record is gone is always garbage, which the orphan purge removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO

from storage.base import AppFileRecord
from storage.scratch import private_dir
from storage.sqlite_connection import Connections

_COLUMNS = "package_id, generation, iv, size, error_code"
_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
_FILE = re.compile(r"([0-9a-f]{32})\.(\d+)\.bin")
_TEMP_PREFIX = ".tmp-"
TEMP_GRACE_SECONDS = 3600  # a temporary file this old belongs to a writer that died


class SQLiteAppFiles:
    """App data files under `folder`, their records in the `app_files` table."""

    def __init__(self, connections: Connections, folder: Path, packages_table: str = "packages"):
        self._db = connections
        self.folder = Path(folder)
        self._gone = (
            f"NOT EXISTS (SELECT 1 FROM {packages_table} p WHERE p.package_id = f.package_id)"
        )
        self._orphans = f"SELECT DISTINCT f.package_id FROM app_files f WHERE {self._gone}"

    def _path(self, package_id: str, generation: int) -> Path:
        if not _PACKAGE_ID.fullmatch(package_id):
            raise ValueError("not a package id")
        return self.folder / f"{package_id}.{int(generation)}.bin"

    def put(self, package_id: str, generation: int, iv: str, blob: bytes) -> AppFileRecord:
        """Record the IV, then write the file atomically (replacing an earlier one)."""
        path = self._path(package_id, generation)
        record = AppFileRecord(package_id, generation, iv, len(blob))
        self._upsert(record)
        private_dir(self.folder)
        temp = self.folder / f"{_TEMP_PREFIX}{path.name}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return record

    def put_unavailable(self, package_id: str, generation: int, error_code: str) -> None:
        """A record with no file: the app cannot be given this generation, and why."""
        self._path(package_id, generation)  # validates the id
        self._upsert(AppFileRecord(package_id, generation, None, 0, error_code))

    def _upsert(self, record: AppFileRecord) -> None:
        self._db.get().execute(
            f"INSERT OR REPLACE INTO app_files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            (record.package_id, record.generation, record.iv, record.size, record.error_code),
        )

    def get(self, package_id: str, generation: int) -> AppFileRecord | None:
        """The record of a generation, or None."""
        row = (
            self._db.get()
            .execute(
                f"SELECT {_COLUMNS} FROM app_files WHERE package_id = ? AND generation = ?",
                (package_id, generation),
            )
            .fetchone()
        )
        return AppFileRecord(*row) if row else None

    def open(self, package_id: str, generation: int) -> BinaryIO | None:
        """The ciphertext file opened for reading, or None when there is none."""
        record = self.get(package_id, generation)
        if record is None or record.iv is None:
            return None
        try:
            return open(self._path(package_id, generation), "rb")  # the caller closes it
        except FileNotFoundError:
            return None

    def delete_package(self, package_id: str, keep_generation: int | None = None) -> int:
        """Delete the package's records and files except `keep_generation`."""
        sql = "SELECT generation FROM app_files WHERE package_id = ?"
        params: tuple[object, ...] = (package_id,)
        if keep_generation is not None:
            sql, params = sql + " AND generation != ?", (package_id, keep_generation)
        generations = [row[0] for row in self._db.get().execute(sql, params).fetchall()]
        return sum(self.delete_generation(package_id, g) for g in generations)

    def delete_generation(self, package_id: str, generation: int) -> int:
        """Delete one generation's record, then its file."""
        deleted = (
            self._db.get()
            .execute(
                "DELETE FROM app_files WHERE package_id = ? AND generation = ?",
                (package_id, generation),
            )
            .rowcount
        )
        with contextlib.suppress(FileNotFoundError, ValueError):
            self._path(package_id, generation).unlink()
        return deleted

    def orphan_package_ids(self, limit: int = 100) -> list[str]:
        """Package ids that have app files but no package document."""
        sql = f"{self._orphans} ORDER BY f.package_id LIMIT ?"
        return [row[0] for row in self._db.get().execute(sql, (limit,)).fetchall()]

    def purge_orphans(self, limit: int = 100) -> int:
        """Delete the files of orphan packages, then files no record names.

        A package's generations are listed only while it has no document; a run of a package
        enqueued again meanwhile writes a new generation, which is not on the list.
        """
        deleted = 0
        for package_id in self.orphan_package_ids(limit):
            sql = f"SELECT generation FROM app_files f WHERE {self._gone} AND f.package_id = ?"
            rows = self._db.get().execute(sql, (package_id,)).fetchall()
            deleted += sum(self.delete_generation(package_id, row[0]) for row in rows)
        self._remove_unnamed_files()
        return deleted

    def _remove_unnamed_files(self) -> None:
        """Files left by a process that died between removing a record and its file."""
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if self._unnamed(path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _unnamed(self, path: Path) -> bool:
        match = _FILE.fullmatch(path.name)
        if match:
            return self.get(match.group(1), int(match.group(2))) is None
        return path.name.startswith(_TEMP_PREFIX) and _older_than(path, TEMP_GRACE_SECONDS)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return path.stat().st_mtime < time.time() - seconds
    except FileNotFoundError:
        return False
