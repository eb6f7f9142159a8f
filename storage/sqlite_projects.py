"""Projects on the embedded backend: tables in the main SQLite file (the statistics ones in
`storage/sqlite_project_stats.py`).

Changes that touch several rows (a version's number, the trash, a project's deletion, the
recount state) are one `BEGIN IMMEDIATE` transaction: it holds the write lock from its first
statement, so what it reads is still true when it writes, in any thread or process.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import asdict

from storage.identity import Page
from storage.projects import (
    FileVersion,
    Member,
    Project,
    Provider,
    StoredFile,
    UnknownFile,
    UnknownProject,
    require_role,
)
from storage.sqlite_project_stats import STATS_SCHEMA, STATS_TABLES, SQLiteProjectStats

SCHEMA = """
CREATE TABLE IF NOT EXISTS storage_providers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    kind TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    default_provider_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS projects_by_organization ON projects (organization_id, name, id);
CREATE TABLE IF NOT EXISTS project_members (
    project_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (project_id, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS project_members_by_account ON project_members (account_id);
CREATE TABLE IF NOT EXISTS project_files (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    trashed_at REAL
);
CREATE INDEX IF NOT EXISTS project_files_by_project ON project_files (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS project_files_in_trash ON project_files (trashed_at, id)
    WHERE trashed_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS file_versions (
    id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    trashed_at REAL,
    UNIQUE (file_id, number)
);
CREATE INDEX IF NOT EXISTS file_versions_by_project ON file_versions (project_id, provider_id);
"""
_PROVIDER = "id, name, description, kind"
_PROJECT = "id, organization_id, name, description, default_provider_id, created_at"
_MEMBER = "project_id, account_id, role_id, added_at"
_FILE = "id, project_id, name, created_at, trashed_at"
_VERSION = "id, file_id, project_id, number, size, sha256, provider_id, created_at, trashed_at"
# Tables holding a project's rows, children first (params: the project id).
_PROJECT_TABLES = (
    "file_versions",
    "project_files",
    "project_members",
    *STATS_TABLES,
)


def _new_id() -> str:
    return str(uuid.uuid4())


class SQLiteProjects(SQLiteProjectStats):
    """Providers, projects, members, files and the trash; statistics from the base class."""

    def ensure_schema(self) -> None:
        self._db.get().executescript(SCHEMA + STATS_SCHEMA)

    def _one(self, sql: str, params: tuple) -> tuple | None:
        return self._db.get().execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.get().execute(sql, params).fetchall()

    def ensure_provider(self, name: str, description: str, kind: str) -> Provider:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO storage_providers ({_PROVIDER}) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind) DO UPDATE"
                " SET name = excluded.name, description = excluded.description",
                (_new_id(), name, description, kind),
            )
            row = conn.execute(
                f"SELECT {_PROVIDER} FROM storage_providers WHERE kind = ?", (kind,)
            ).fetchone()
        return Provider(*row)

    def provider(self, provider_id: str) -> Provider | None:
        row = self._one(f"SELECT {_PROVIDER} FROM storage_providers WHERE id = ?", (provider_id,))
        return Provider(*row) if row else None

    def providers(self) -> list[Provider]:
        return [
            Provider(*row)
            for row in self._all(f"SELECT {_PROVIDER} FROM storage_providers ORDER BY kind")
        ]

    def create_project(
        self,
        organization_id: str,
        name: str,
        description: str,
        default_provider_id: str,
        at: float,
    ) -> Project:
        project = Project(_new_id(), organization_id, name, description, default_provider_id, at)
        self._db.get().execute(
            f"INSERT INTO projects ({_PROJECT}) VALUES (?, ?, ?, ?, ?, ?)",
            tuple(asdict(project).values()),
        )
        return project

    def project(self, project_id: str) -> Project | None:
        row = self._one(f"SELECT {_PROJECT} FROM projects WHERE id = ?", (project_id,))
        return Project(*row) if row else None

    def update_project(
        self,
        project_id: str,
        name: str | None = None,
        description: str | None = None,
        default_provider_id: str | None = None,
    ) -> Project | None:
        row = self._one(
            "UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description),"
            " default_provider_id = COALESCE(?, default_provider_id)"
            f" WHERE id = ? RETURNING {_PROJECT}",
            (name, description, default_provider_id, project_id),
        )
        return Project(*row) if row else None

    def delete_project(self, project_id: str) -> bool:
        with self._db.transaction() as conn:
            for table in _PROJECT_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
            return conn.execute("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount == 1

    def versions_of_project(self, project_id: str) -> list[FileVersion]:
        rows = self._all(
            f"SELECT {_VERSION} FROM file_versions WHERE project_id = ? ORDER BY file_id, number",
            (project_id,),
        )
        return [FileVersion(*row) for row in rows]

    def projects_of_organization(
        self, organization_id: str, offset: int, limit: int
    ) -> Page[Project]:
        rows = self._all(
            f"SELECT {_PROJECT} FROM projects WHERE organization_id = ?"
            " ORDER BY name, id LIMIT ? OFFSET ?",
            (organization_id, limit, offset),
        )
        total = self._one(
            "SELECT COUNT(*) FROM projects WHERE organization_id = ?", (organization_id,)
        )
        return Page([Project(*row) for row in rows], _count(total))

    def projects_of_account(
        self, account_id: str, offset: int, limit: int
    ) -> Page[tuple[Project, str]]:
        columns = ", ".join(f"p.{column}" for column in _PROJECT.split(", "))
        rows = self._all(
            f"SELECT {columns}, m.role_id FROM project_members m JOIN projects p"
            " ON p.id = m.project_id WHERE m.account_id = ? ORDER BY p.name, p.id LIMIT ? OFFSET ?",
            (account_id, limit, offset),
        )
        total = self._one(
            "SELECT COUNT(*) FROM project_members m JOIN projects p ON p.id = m.project_id"
            " WHERE m.account_id = ?",
            (account_id,),
        )
        return Page([(Project(*row[:-1]), row[-1]) for row in rows], _count(total))

    def set_member(self, project_id: str, account_id: str, role_id: str, at: float) -> Member:
        require_role(role_id)
        with self._db.transaction() as conn:
            _require_project(conn, project_id)
            row = conn.execute(
                f"INSERT INTO project_members ({_MEMBER}) VALUES (?, ?, ?, ?) ON CONFLICT"
                f" DO UPDATE SET role_id = excluded.role_id RETURNING {_MEMBER}",
                (project_id, account_id, role_id, at),
            ).fetchone()
        return Member(*row)

    def remove_member(self, project_id: str, account_id: str) -> bool:
        cursor = self._db.get().execute(
            "DELETE FROM project_members WHERE project_id = ? AND account_id = ?",
            (project_id, account_id),
        )
        return cursor.rowcount == 1

    def member(self, project_id: str, account_id: str) -> Member | None:
        row = self._one(
            f"SELECT {_MEMBER} FROM project_members WHERE project_id = ? AND account_id = ?",
            (project_id, account_id),
        )
        return Member(*row) if row else None

    def members(self, project_id: str) -> list[Member]:
        rows = self._all(
            f"SELECT {_MEMBER} FROM project_members WHERE project_id = ?"
            " ORDER BY added_at, account_id",
            (project_id,),
        )
        return [Member(*row) for row in rows]

    def create_file(self, project_id: str, name: str, at: float) -> StoredFile:
        stored = StoredFile(_new_id(), project_id, name, at)
        with self._db.transaction() as conn:
            _require_project(conn, project_id)
            conn.execute(
                f"INSERT INTO project_files ({_FILE}) VALUES (?, ?, ?, ?, ?)",
                tuple(asdict(stored).values()),
            )
        return stored

    def add_version(
        self,
        file_id: str,
        size: int,
        sha256: str,
        provider_id: str,
        at: float,
        version_id: str | None = None,
    ) -> FileVersion:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT f.project_id, COALESCE(MAX(v.number), 0) + 1 FROM project_files f"
                " LEFT JOIN file_versions v ON v.file_id = f.id"
                " WHERE f.id = ? AND f.trashed_at IS NULL GROUP BY f.id",
                (file_id,),
            ).fetchone()
            if row is None:
                raise UnknownFile(file_id)
            project_id, number = row
            version = FileVersion(
                version_id or _new_id(),
                file_id,
                project_id,
                number,
                size,
                sha256,
                provider_id,
                at,
            )
            conn.execute(
                f"INSERT INTO file_versions ({_VERSION}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(asdict(version).values()),
            )
        return version

    def file(self, file_id: str) -> StoredFile | None:
        row = self._one(f"SELECT {_FILE} FROM project_files WHERE id = ?", (file_id,))
        return StoredFile(*row) if row else None

    def files(self, project_id: str, trashed: bool, offset: int, limit: int) -> Page[StoredFile]:
        where = f"project_id = ? AND trashed_at IS {'NOT ' if trashed else ''}NULL"
        rows = self._all(
            f"SELECT {_FILE} FROM project_files WHERE {where}"
            " ORDER BY created_at, id LIMIT ? OFFSET ?",
            (project_id, limit, offset),
        )
        total = self._one(f"SELECT COUNT(*) FROM project_files WHERE {where}", (project_id,))
        return Page([StoredFile(*row) for row in rows], _count(total))

    def versions(self, file_id: str) -> list[FileVersion]:
        rows = self._all(
            f"SELECT {_VERSION} FROM file_versions WHERE file_id = ? ORDER BY number", (file_id,)
        )
        return [FileVersion(*row) for row in rows]

    def version(self, version_id: str) -> FileVersion | None:
        row = self._one(f"SELECT {_VERSION} FROM file_versions WHERE id = ?", (version_id,))
        return FileVersion(*row) if row else None

    def trash_file(self, file_id: str, at: float) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE project_files SET trashed_at = ? WHERE id = ? AND trashed_at IS NULL",
                (at, file_id),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute("UPDATE file_versions SET trashed_at = ? WHERE file_id = ?", (at, file_id))
        return True

    def restore_file(self, file_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE project_files SET trashed_at = NULL"
                " WHERE id = ? AND trashed_at IS NOT NULL",
                (file_id,),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute("UPDATE file_versions SET trashed_at = NULL WHERE file_id = ?", (file_id,))
        return True

    def purge_file(self, file_id: str) -> list[FileVersion]:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM project_files WHERE id = ? AND trashed_at IS NOT NULL", (file_id,)
            )
            if cursor.rowcount == 0:
                return []
            rows = conn.execute(
                f"DELETE FROM file_versions WHERE file_id = ? RETURNING {_VERSION}", (file_id,)
            ).fetchall()
        return sorted((FileVersion(*row) for row in rows), key=lambda v: v.number)

    def expired_trash(self, before: float, limit: int) -> list[StoredFile]:
        rows = self._all(
            f"SELECT {_FILE} FROM project_files WHERE trashed_at IS NOT NULL AND trashed_at < ?"
            " ORDER BY trashed_at, id LIMIT ?",
            (before, limit),
        )
        return [StoredFile(*row) for row in rows]


def _count(row: tuple | None) -> int:
    return row[0] if row else 0


def _require_project(conn: sqlite3.Connection, project_id: str) -> None:
    if not conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone():
        raise UnknownProject(project_id)
