"""Project statistics and coalesced recounts on MongoDB: a document per project in
`project_stats` and in `project_recounts`, and the counting of a project's versions as one
aggregation pipeline.

A stored document is replaced only by a filter that says its generation is not higher: when it
is, the upsert collides with it on `_id` and nothing changes. A project's recount state is one
document changed by single atomic updates (`$inc` returning the value before, a conditional
`$set`), so concurrent events and tasks need no lock: `$min` sets `pending_since` when the
document has none, that is on the idle -> pending transition only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.projects import COUNTERS, ProjectStats, ProviderFigures, stats_of


class MongoProjectStats:
    """The statistics half of `MongoProjects`."""

    def __init__(self, db: Database):
        self._versions: Collection = db["file_versions"]
        self._stats: Collection = db["project_stats"]
        self._recounts: Collection = db["project_recounts"]

    def ensure_stats_indexes(self) -> None:
        self._recounts.create_index([("pending_since", ASCENDING), ("_id", ASCENDING)])

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
        groups = self._versions.aggregate(pipeline)
        return stats_of(project_id, (_provider_figures(group) for group in groups))

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

    def summed_stats(self, project_ids: Iterable[str]) -> ProjectStats:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"_id": {"$in": list(project_ids)}}},
            {"$unwind": "$by_provider"},
            {"$group": {"_id": "$by_provider.provider_id", **{
                name: {"$sum": f"$by_provider.{name}"} for name in COUNTERS
            }}},
        ]  # fmt: skip
        groups = self._stats.aggregate(pipeline)
        figures = (ProviderFigures(g["_id"], *(g[name] for name in COUNTERS)) for g in groups)
        return stats_of("", figures)

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
        documents = list(cursor.sort(order).limit(limit)) if limit > 0 else []
        return [document["_id"] for document in documents]


def _provider_figures(group: dict[str, Any]) -> ProviderFigures:
    """One provider's group of the recount pipeline (keyed by provider id)."""
    provider_id = group.pop("_id")
    return ProviderFigures(provider_id, **group)


def _stored_stats(document: dict[str, Any]) -> ProjectStats:
    """A `project_stats` document back as the record it was made from."""
    fields_ = {key: value for key, value in document.items() if key != "_id"}
    by_provider = tuple(ProviderFigures(**figures) for figures in fields_.pop("by_provider"))
    return ProjectStats(project_id=document["_id"], by_provider=by_provider, **fields_)
