"""Projects on MongoDB: a collection per record kind, one document per record.

Without multi-document transactions, each change is ordered so a crash in the middle leaves
something a retry finishes: the file's `trashed_at` changes first (the conditional update that
decides the answer), then its versions follow; a project is deleted after everything of it.
A version's number is the highest one plus one, inserted under a unique (file, number) index:
two racing uploads cannot both take a number, the loser takes the next. The recount state of a
project is one document changed by single atomic updates (`$inc` with the old value returned,
conditional `$set`), so concurrent events and tasks need no lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.identity import Page
from storage.projects import (
    FileVersion,
    Member,
    Project,
    ProjectStats,
    Provider,
    ProviderFigures,
    StoredFile,
    UnknownFile,
    UnknownProject,
    require_role,
    stats_of,
)

R = TypeVar("R")
_BY_NAME = [("name", ASCENDING), ("_id", ASCENDING)]
_BY_AGE = [("created_at", ASCENDING), ("_id", ASCENDING)]
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


class MongoProjects:
    def __init__(self, db: Database):
        self._providers: Collection = db["storage_providers"]
        self._projects: Collection = db["projects"]
        self._members: Collection = db["project_members"]
        self._files: Collection = db["project_files"]
        self._versions: Collection = db["file_versions"]
        self._stats: Collection = db["project_stats"]
        self._recounts: Collection = db["project_recounts"]

    def ensure_indexes(self) -> None:
        self._providers.create_index("kind", unique=True)
        self._projects.create_index([("organization_id", ASCENDING), *_BY_NAME])
        self._members.create_index([("project_id", ASCENDING), ("account_id", ASCENDING)],
                                   unique=True)  # fmt: skip
        self._members.create_index("account_id")
        self._files.create_index([("project_id", ASCENDING), *_BY_AGE])
        self._files.create_index([("trashed_at", ASCENDING), ("_id", ASCENDING)])
        self._versions.create_index([("file_id", ASCENDING), ("number", ASCENDING)], unique=True)
        self._versions.create_index([("project_id", ASCENDING), ("provider_id", ASCENDING)])
        self._recounts.create_index([("pending_since", ASCENDING), ("_id", ASCENDING)])

    def ensure_provider(self, name: str, description: str, kind: str) -> Provider:
        for _attempt in range(2):  # a racing first call wins the unique index: then update it
            try:
                document = self._providers.find_one_and_update(
                    {"kind": kind},
                    {"$set": {"name": name, "description": description},
                     "$setOnInsert": {"_id": _new_id()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )  # fmt: skip
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
        return [_record(FileVersion, d) for d in cursor.sort([("file_id", 1), ("number", 1)])]

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
            return self._follow_trash(version)
        raise RuntimeError(f"no free version number for file {file_id}")

    def _next_number(self, file_id: str) -> int:
        highest = self._versions.find_one({"file_id": file_id}, sort=[("number", DESCENDING)])
        return highest["number"] + 1 if highest else 1

    def _follow_trash(self, version: FileVersion) -> FileVersion:
        """A version inserted while its file went to the trash goes there too (the trash
        updated the versions it found before this one existed)."""
        stored = self._files.find_one({"_id": version.file_id}, {"trashed_at": 1})
        trashed_at = stored["trashed_at"] if stored else None
        if trashed_at is None:
            return version
        self._versions.update_one({"_id": version.id}, {"$set": {"trashed_at": trashed_at}})
        return replace(version, trashed_at=trashed_at)

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
        if changed.modified_count == 0:
            return False
        self._versions.update_many({"file_id": file_id}, {"$set": {"trashed_at": at}})
        return True

    def restore_file(self, file_id: str) -> bool:
        changed = self._files.update_one(
            {"_id": file_id} | _TRASHED, {"$set": {"trashed_at": None}}
        )
        if changed.modified_count == 0:
            return False
        pass
        return True

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

    def recount(self, project_id: str) -> ProjectStats:
        alive = {"$eq": ["$trashed_at", None]}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"project_id": project_id}},
            {"$group": {
                "_id": "$provider_id",
                "active_file_versions": {"$sum": {"$cond": [alive, 1, 0]}},
                "active_bytes": {"$sum": {"$cond": [alive, "$size", 0]}},
                "trash_file_versions": {"$sum": {"$cond": [alive, 0, 1]}},
                "trash_bytes": {"$sum": {"$cond": [alive, 0, "$size"]}},
            }},
        ]  # fmt: skip
        figures = (
            ProviderFigures(**({"provider_id": group.pop("_id")} | group))
            for group in self._versions.aggregate(pipeline)
        )
        return stats_of(project_id, figures)

    def put_stats(self, stats: ProjectStats) -> bool:
        document = asdict(stats)
        document["_id"] = document.pop("project_id")
        try:  # no newer document matches: the upsert then collides with it on `_id`
            self._stats.replace_one(
                {"_id": stats.project_id, "generation": {"$lte": stats.generation}},
                document,
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    def stats(self, project_id: str) -> ProjectStats | None:
        return self.stats_many([project_id]).get(project_id)

    def stats_many(self, project_ids: Iterable[str]) -> dict[str, ProjectStats]:
        documents = self._stats.find({"_id": {"$in": list(project_ids)}})
        return {document["_id"]: _stored_stats(document) for document in documents}

    def want_recount(self, project_id: str, at: float) -> bool:
        update = {"$inc": {"wanted": 1}, "$set": {"pending": True}}
        update["$min"] = {"pending_since": at}  # set when missing: idle documents have none
        for _attempt in range(2):  # two first events race the upsert: the loser counts again
            try:
                before = self._recounts.find_one_and_update(
                    {"_id": project_id}, update, upsert=True, return_document=ReturnDocument.BEFORE
                )
            except DuplicateKeyError:
                continue
            return before is None or not before["pending"]
        raise RuntimeError(f"the recount state of project {project_id} could not be updated")

    def start_recount(self, project_id: str) -> int:
        document = self._recounts.find_one({"_id": project_id}, {"wanted": 1})
        return document["wanted"] if document else 0

    def finish_recount(self, project_id: str, generation: int) -> bool:
        idle = self._recounts.update_one(
            {"_id": project_id, "wanted": {"$lte": generation}},
            {"$set": {"pending": False}, "$unset": {"pending_since": ""}},
        )
        if idle.matched_count:
            return False
        return self._recounts.count_documents({"_id": project_id}, limit=1) == 1

    def pending_recounts(self, since_before: float, limit: int) -> list[str]:
        cursor = self._recounts.find({"pending": True, "pending_since": {"$lt": since_before}})
        order = [("pending_since", ASCENDING), ("_id", ASCENDING)]
        return [document["_id"] for document in _page(cursor.sort(order), 0, limit)]


def _stored_stats(document: dict[str, Any]) -> ProjectStats:
    fields_ = {key: value for key, value in document.items() if key != "_id"}
    by_provider = tuple(ProviderFigures(**figures) for figures in fields_.pop("by_provider"))
    return ProjectStats(project_id=document["_id"], by_provider=by_provider, **fields_)
