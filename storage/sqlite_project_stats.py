"""Project statistics and coalesced recounts on the embedded backend: two tables in the main
SQLite file, and the counting of a project's versions as one SQL aggregation.

A stored document keeps its generation in a column, so the upsert that stores it refuses an
older one in the same statement. A project's recount state (`wanted` events, `pending`) is read
and written inside one `BEGIN IMMEDIATE` transaction per call.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from storage.projects import ProjectStats, ProviderFigures, stats_of
from storage.sqlite_connection import Connections

STATS_SCHEMA = """
CREATE TABLE IF NOT EXISTS project_stats (
    project_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    computed_at REAL NOT NULL,
    figures TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS project_recounts (
    project_id TEXT PRIMARY KEY,
    wanted INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    pending_since REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS project_recounts_pending ON project_recounts (pending_since)
    WHERE pending;
"""
STATS_TABLES = ("project_stats", "project_recounts")  # keyed by project id
_FIGURES = """
SELECT provider_id,
    SUM(trashed_at IS NULL), TOTAL(CASE WHEN trashed_at IS NULL THEN size END),
    SUM(trashed_at IS NOT NULL), TOTAL(CASE WHEN trashed_at IS NOT NULL THEN size END)
FROM file_versions WHERE project_id = ? GROUP BY provider_id"""


IDS_PER_QUERY = 900  # project ids per summing query (SQLite allows 32,766 parameters)
# Per provider over the stored documents: `figures` is [4 totals, [[provider id, 4 counters]]].
_SUMMED = (
    "SELECT json_extract(p.value, '$[0]'), SUM(json_extract(p.value, '$[1]')),"
    " SUM(json_extract(p.value, '$[2]')), SUM(json_extract(p.value, '$[3]')),"
    " SUM(json_extract(p.value, '$[4]'))"
    " FROM project_stats, json_each(project_stats.figures, '$[4]') AS p"
    " WHERE project_stats.project_id IN ({marks}) GROUP BY 1"
)


class SQLiteProjectStats:
    """The statistics half of `SQLiteProjects`."""

    def __init__(self, connections: Connections):
        self._db = connections

    def recount(self, project_id: str) -> ProjectStats:
        rows = self._db.get().execute(_FIGURES, (project_id,))
        figures = (  # TOTAL() sums to a float: back to whole bytes
            ProviderFigures(provider, active, int(active_bytes), trash, int(trash_bytes))
            for provider, active, active_bytes, trash, trash_bytes in rows
        )
        return stats_of(project_id, figures)

    def put_stats(self, stats: ProjectStats) -> bool:
        cursor = self._db.get().execute(
            "INSERT INTO project_stats (project_id, generation, computed_at, figures)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET generation = excluded.generation,"
            " computed_at = excluded.computed_at, figures = excluded.figures"
            " WHERE excluded.generation >= project_stats.generation",
            (stats.project_id, stats.generation, stats.computed_at, _figures_document(stats)),
        )
        return cursor.rowcount == 1

    def stats(self, project_id: str) -> ProjectStats | None:
        return self.stats_many([project_id]).get(project_id)

    def stats_many(self, project_ids: Iterable[str]) -> dict[str, ProjectStats]:
        wanted = list(dict.fromkeys(project_ids))
        marks = ", ".join("?" * len(wanted))
        rows = self._db.get().execute(
            "SELECT project_id, generation, computed_at, figures FROM project_stats"
            f" WHERE project_id IN ({marks})",
            tuple(wanted),
        )
        return {row[0]: _stored_stats(*row) for row in rows}

    def summed_stats(self, project_ids: Iterable[str]) -> ProjectStats:
        wanted = list(dict.fromkeys(project_ids))
        figures: list[ProviderFigures] = []
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            rows = self._db.get().execute(
                _SUMMED.format(marks=", ".join("?" * len(chunk))), tuple(chunk)
            )
            figures += [ProviderFigures(*row) for row in rows]
        return stats_of("", _per_provider(figures))

    def want_recount(self, project_id: str, at: float) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT pending FROM project_recounts WHERE project_id = ?", (project_id,)
            ).fetchone()
            conn.execute(
                "INSERT INTO project_recounts (project_id, wanted, pending, pending_since)"
                " VALUES (?, 1, 1, ?) ON CONFLICT DO UPDATE SET wanted = wanted + 1, pending = 1,"
                " pending_since = COALESCE(MIN(pending_since, excluded.pending_since), ?)",
                (project_id, at, at),
            )
        return row is None or not row[0]

    def start_recount(self, project_id: str) -> int:
        row = (
            self._db.get()
            .execute("SELECT wanted FROM project_recounts WHERE project_id = ?", (project_id,))
            .fetchone()
        )
        return row[0] if row else 0

    def finish_recount(self, project_id: str, generation: int) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT wanted FROM project_recounts WHERE project_id = ?", (project_id,)
            ).fetchone()
            if row is None or row[0] <= generation:
                conn.execute(
                    "UPDATE project_recounts SET pending = 0, pending_since = NULL"
                    " WHERE project_id = ?",
                    (project_id,),
                )
                return False
        return True

    def pending_recounts(self, since_before: float, limit: int) -> list[str]:
        rows = self._db.get().execute(
            "SELECT project_id FROM project_recounts WHERE pending AND pending_since < ?"
            " ORDER BY pending_since, project_id LIMIT ?",
            (since_before, limit),
        )
        return [row[0] for row in rows]


def _figures_document(stats: ProjectStats) -> str:
    """The figures as stored, positionally (a stats read of 1,000 projects builds every record
    again: positional records cost half of named ones): the four totals, then per provider its
    id and four counters. The generation and time have columns (the upsert compares them)."""
    providers = [
        [f.provider_id, f.active_file_versions, f.active_bytes, f.trash_file_versions,
         f.trash_bytes]
        for f in stats.by_provider
    ]  # fmt: skip
    totals = [stats.active_file_versions, stats.active_bytes, stats.trash_file_versions,
              stats.trash_bytes]  # fmt: skip
    return orjson.dumps([*totals, providers]).decode()


def _stored_stats(
    project_id: str, generation: int, computed_at: float, document: str
) -> ProjectStats:
    """A `project_stats` row back as the record it was made from."""
    active, active_bytes, trash, trash_bytes, providers = orjson.loads(document)
    by_provider = tuple(ProviderFigures(*figures) for figures in providers)
    return ProjectStats(
        project_id, active, active_bytes, trash, trash_bytes, by_provider, generation, computed_at
    )


def _per_provider(figures: list[ProviderFigures]) -> list[ProviderFigures]:
    """Figures of the same provider (from several queries) added into one."""
    merged: dict[str, list[int]] = {}
    for f in figures:
        counters = [f.active_file_versions, f.active_bytes, f.trash_file_versions, f.trash_bytes]
        earlier = merged.get(f.provider_id, [0, 0, 0, 0])
        merged[f.provider_id] = [a + b for a, b in zip(earlier, counters, strict=True)]
    return [ProviderFigures(provider_id, *counters) for provider_id, counters in merged.items()]
