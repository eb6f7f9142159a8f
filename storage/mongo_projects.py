"""Projects on MongoDB: a collection per record kind, one document per record.

There are no multi-document transactions, so every change that touches several documents starts
with the conditional update that decides it, and the rest follows:
- trash and restore set the file's `trashed_at`, then give its versions the file's current one;
  a crash in between, or an upload racing the trash, is realigned by the next trash or restore
  of the file (a trash and a restore racing each other can leave them apart until then);
- a purge deletes the file, then its versions: a crash in between leaves versions that
  `versions_of_project` still lists and the project's deletion removes;
- a project is deleted after everything of it, so deleting it again finishes the job.

A version's number is the highest one plus one, inserted under a unique (file, number) index:
two racing uploads cannot both take a number, the loser takes the next. Statistics and the
recount state are in `storage/mongo_project_stats.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.identity import Page
from storage.mongo_project_stats import MongoProjectStats
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

R = TypeVar("R")
_BY_NAME = [("name", ASCENDING), ("_id", ASCENDING)]
_BY_AGE = [("created_at", ASCENDING), ("_id", ASCENDING)]
_BY_FILE = [("file_id", ASCENDING), ("number", ASCENDING)]
_NUMBER_ATTEMPTS = 100  # racing uploads of one file, each losing a number at most once per rival
_ALIVE, _TRASHED = {"trashed_at": None}, {"trashed_at": {"$ne": None}}


def _new_id() -> str:
    return str(uuid.uuid4())


def _document(record: Any) -> dict[str, Any]:
    """A record as stored: its `id` as `_id`."""
    document = asdict(record)
    document["_id"] = document.pop("id")
    return document


def _record(kind: type[R], document: dict[str, Any]) -> R:
    """A document back as its record (`_id` as `id` where the record has one)."""
    values = {"id": document["_id"]} | document
    return kind(**{field.name: values[field.name] for field in fields(kind)})  # type: ignore[arg-type]


def _page(cursor: Any, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of a sorted cursor (MongoDB's limit(0) would be no limit at all)."""
    return list(cursor.skip(offset).limit(limit)) if limit > 0 else []


class MongoProjects(MongoProjectStats):
    """Providers, projects, members, files and the trash; statistics from the base class."""

    def __init__(self, db: Database):
        self._providers: Collection = db["storage_providers"]
        self._projects: Collection = db["projects"]
        self._members: Collection = db["project_members"]
        self._files: Collection = db["project_files"]
        super().__init__(db)

    def ensure_indexes(self) -> None:
        self._providers.create_index("kind", unique=True)
        self._projects.create_index([("organization_id", ASCENDING), *_BY_NAME])
        membership = [("project_id", ASCENDING), ("account_id", ASCENDING)]
        self._members.create_index(membership, unique=True)
        self._members.create_index("account_id")
        self._files.create_index([("project_id", ASCENDING), *_BY_AGE])
        self._files.create_index([("trashed_at", ASCENDING), ("_id", ASCENDING)])
        self._versions.create_index([("file_id", ASCENDING), ("number", ASCENDING)], unique=True)
        self._versions.create_index([("project_id", ASCENDING), ("provider_id", ASCENDING)])
        self.ensure_stats_indexes()

    def ensure_provider(self, name: str, description: str, kind: str) -> Provider:
        for _attempt in range(2):  # a racing first call wins the unique index: then update it
            try:
                document = self._providers.find_one_and_update(
                    {"kind": kind},
                    {"$set": {"name": name, "description": description}}
                    | {"$setOnInsert": {"_id": _new_id()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                assert document is not None  # an upsert always has a document to return
                return _record(Provider, document)
            except DuplicateKeyError:
                continue
        raise RuntimeError(f"provider {kind!r} could be neither made nor found")

    def provider(self, provider_id: str) -> Provider | None:
        document = self._providers.find_one({"_id": provider_id})
        return _record(Provider, document) if document else None

    def providers(self) -> list[Provider]:
        return [_record(Provider, d) for d in self._providers.find().sort("kind", ASCENDING)]

    def create_project(
        self,
        organization_id: str,
        name: str,
        description: str,
        default_provider_id: str,
        at: float,
    ) -> Project:
        project = Project(_new_id(), organization_id, name, description, default_provider_id, at)
        self._projects.insert_one(_document(project))
        return project

    def project(self, project_id: str) -> Project | None:
        document = self._projects.find_one({"_id": project_id})
        return _record(Project, document) if document else None

    def update_project(
        self,
        project_id: str,
        name: str | None = None,
        description: str | None = None,
        default_provider_id: str | None = None,
    ) -> Project | None:
        changes = {"name": name, "description": description}
        changes["default_provider_id"] = default_provider_id
        document = self._projects.find_one_and_update(
            {"_id": project_id},
            {"$set": {key: value for key, value in changes.items() if value is not None}},
            return_document=ReturnDocument.AFTER,
        )
        return _record(Project, document) if document else None

    def delete_project(self, project_id: str) -> bool:
        for collection in (self._versions, self._files, self._members):
            collection.delete_many({"project_id": project_id})
        self._stats.delete_one({"_id": project_id})
        self._recounts.delete_one({"_id": project_id})
        return self._projects.delete_one({"_id": project_id}).deleted_count == 1

    def versions_of_project(self, project_id: str) -> list[FileVersion]:
        cursor = self._versions.find({"project_id": project_id})
        return [_record(FileVersion, d) for d in cursor.sort(_BY_FILE)]

    def projects_of_organization(
        self, organization_id: str, offset: int, limit: int
    ) -> Page[Project]:
        query = {"organization_id": organization_id}
        documents = _page(self._projects.find(query).sort(_BY_NAME), offset, limit)
        total = self._projects.count_documents(query)
        return Page([_record(Project, d) for d in documents], total)

    def projects_of_account(
        self, account_id: str, offset: int, limit: int
    ) -> Page[tuple[Project, str]]:
        roles = {
            m["project_id"]: m["role_id"] for m in self._members.find({"account_id": account_id})
        }
        query = {"_id": {"$in": list(roles)}}
        documents = _page(self._projects.find(query).sort(_BY_NAME), offset, limit)
        total = self._projects.count_documents(query)
        return Page([(_record(Project, d), roles[d["_id"]]) for d in documents], total)

    def set_member(self, project_id: str, account_id: str, role_id: str, at: float) -> Member:
        require_role(role_id)
        if self._projects.count_documents({"_id": project_id}, limit=1) == 0:
            raise UnknownProject(project_id)
        key = {"project_id": project_id, "account_id": account_id}
        for _attempt in range(2):  # a racing first add wins the unique index: then update it
            try:
                document = self._members.find_one_and_update(
                    key,
                    {"$set": {"role_id": role_id}, "$setOnInsert": {"added_at": at}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                assert document is not None  # an upsert always has a document to return
                return Member(project_id, account_id, document["role_id"], document["added_at"])
            except DuplicateKeyError:
                continue
        raise RuntimeError("membership could be neither made nor found")

    def remove_member(self, project_id: str, account_id: str) -> bool:
        deleted = self._members.delete_one({"project_id": project_id, "account_id": account_id})
        return deleted.deleted_count == 1

    def member(self, project_id: str, account_id: str) -> Member | None:
        document = self._members.find_one({"project_id": project_id, "account_id": account_id})
        return _record(Member, document) if document else None

    def members(self, project_id: str) -> list[Member]:
        cursor = self._members.find({"project_id": project_id})
        order = [("added_at", ASCENDING), ("account_id", ASCENDING)]
        return [_record(Member, d) for d in cursor.sort(order)]

    def create_file(self, project_id: str, name: str, at: float) -> StoredFile:
        if self._projects.count_documents({"_id": project_id}, limit=1) == 0:
            raise UnknownProject(project_id)
        stored = StoredFile(_new_id(), project_id, name, at)
        self._files.insert_one(_document(stored))
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
        stored = self._files.find_one({"_id": file_id} | _ALIVE)
        if stored is None:
            raise UnknownFile(file_id)
        new_id = version_id or _new_id()
        for _attempt in range(_NUMBER_ATTEMPTS):
            number = self._next_number(file_id)
            version = FileVersion(
                new_id, file_id, stored["project_id"], number, size, sha256, provider_id, at
            )
            try:
                self._versions.insert_one(_document(version))
            except DuplicateKeyError:
                continue  # a racing upload took that number
            return replace(version, trashed_at=self._versions_follow_file(file_id))
        raise RuntimeError(f"no free version number for file {file_id}")

    def _next_number(self, file_id: str) -> int:
        highest = self._versions.find_one({"file_id": file_id}, sort=[("number", DESCENDING)])
        return highest["number"] + 1 if highest else 1

    def _versions_follow_file(self, file_id: str) -> float | None:
        """Give every version of the file the file's `trashed_at`, and return it.

        The file's own update decides; its versions follow in a second update, so what a crash
        in between, or an upload racing the trash, left apart is realigned by the next call.
        """
        stored = self._files.find_one({"_id": file_id}, {"trashed_at": 1})
        if stored is None:
            return None
        trashed_at = stored["trashed_at"]
        self._versions.update_many(
            {"file_id": file_id, "trashed_at": {"$ne": trashed_at}},
            {"$set": {"trashed_at": trashed_at}},
        )
        return trashed_at

    def file(self, file_id: str) -> StoredFile | None:
        document = self._files.find_one({"_id": file_id})
        return _record(StoredFile, document) if document else None

    def files(self, project_id: str, trashed: bool, offset: int, limit: int) -> Page[StoredFile]:
        query = {"project_id": project_id} | (_TRASHED if trashed else _ALIVE)
        documents = _page(self._files.find(query).sort(_BY_AGE), offset, limit)
        total = self._files.count_documents(query)
        return Page([_record(StoredFile, d) for d in documents], total)

    def versions(self, file_id: str) -> list[FileVersion]:
        cursor = self._versions.find({"file_id": file_id}).sort("number", ASCENDING)
        return [_record(FileVersion, d) for d in cursor]

    def version(self, version_id: str) -> FileVersion | None:
        document = self._versions.find_one({"_id": version_id})
        return _record(FileVersion, document) if document else None

    def trash_file(self, file_id: str, at: float) -> bool:
        changed = self._files.update_one({"_id": file_id} | _ALIVE, {"$set": {"trashed_at": at}})
        self._versions_follow_file(file_id)
        return changed.modified_count == 1

    def restore_file(self, file_id: str) -> bool:
        changed = self._files.update_one(
            {"_id": file_id} | _TRASHED, {"$set": {"trashed_at": None}}
        )
        self._versions_follow_file(file_id)
        return changed.modified_count == 1

    def purge_file(self, file_id: str) -> list[FileVersion]:
        if self._files.delete_one({"_id": file_id} | _TRASHED).deleted_count == 0:
            return []
        purged = self.versions(file_id)
        self._versions.delete_many({"file_id": file_id})
        return purged

    def expired_trash(self, before: float, limit: int) -> list[StoredFile]:
        query = {"trashed_at": {"$ne": None, "$lt": before}}
        cursor = self._files.find(query).sort([("trashed_at", ASCENDING), ("_id", ASCENDING)])
        return [_record(StoredFile, d) for d in _page(cursor, 0, limit)]
