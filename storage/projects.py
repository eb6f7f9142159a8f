"""Projects: their members and roles, storage providers, files with versions, the trash, and
per-project statistics recomputed in coalesced bursts (the contract every backend provides).

A file's bytes live on a storage provider; the store keeps only records (size, hash, which
provider). Deleting a file moves it and every version to the trash (`trashed_at` set); a purge
removes the records and hands the versions back so the caller removes their bytes.

Statistics are a stored document per project, served as is. Recomputing them is coalesced: each
file event calls `want_recount`, which says True only on the idle -> pending transition, so a
burst of events enqueues one task. That task loops `start_recount` -> `recount` -> `put_stats`
-> `finish_recount` until no event came in meanwhile; the generation it stamps is the `wanted`
counter it started from, so an older result never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from storage.identity import Page

LOCAL, GRIDFS = "local", "gridfs"  # provider kinds: files under DATA_DIR, MongoDB's GridFS


class UnknownProject(LookupError):
    """No project has this id."""


class UnknownFile(LookupError):
    """No file outside the trash has this id."""


@dataclass(frozen=True)
class Role:
    """A project role: its stable id, display name and what it allows."""

    id: str
    name: str
    permissions: frozenset[str]


_VIEWER = frozenset({"view_project"})
_DOWNLOADER = _VIEWER | {"download_file"}
_UPLOADER = _DOWNLOADER | {"upload_file"}
_EDITOR = _UPLOADER | {"update_file", "delete_file", "restore_file"}
_ADMIN = _EDITOR | {"purge_file", "manage_project_permissions"}
ROLES: dict[str, Role] = {
    role.id: role
    for role in (
        Role("project_admin", "Project admin", _ADMIN),
        Role("project_viewer", "Project viewer", _VIEWER),
        Role("file_downloader", "File downloader", _DOWNLOADER),
        Role("file_uploader", "File uploader", _UPLOADER),
        Role("file_editor", "File editor", _EDITOR),
    )
}
PERMISSIONS = _ADMIN  # every permission a role can hold


def require_role(role_id: str) -> None:
    """ValueError unless `role_id` names one of `ROLES`."""
    if role_id not in ROLES:
        raise ValueError(f"unknown project role {role_id!r}")


@dataclass(frozen=True)
class Provider:
    """Where file bytes are kept: one per kind (`LOCAL` or `GRIDFS`)."""

    id: str
    name: str
    description: str
    kind: str


@dataclass(frozen=True)
class Project:
    id: str
    organization_id: str
    name: str
    description: str
    default_provider_id: str
    created_at: float


@dataclass(frozen=True)
class Member:
    project_id: str
    account_id: str
    role_id: str  # a key of ROLES
    added_at: float


@dataclass(frozen=True)
class StoredFile:
    id: str
    project_id: str
    name: str
    created_at: float
    trashed_at: float | None = None


@dataclass(frozen=True)
class FileVersion:
    id: str
    file_id: str
    project_id: str
    number: int  # 1, 2, ... within its file
    size: int
    sha256: str  # hex
    provider_id: str
    created_at: float
    trashed_at: float | None = None


# The counters of `ProviderFigures` and `ProjectStats`, in their order.
COUNTERS = ("active_file_versions", "active_bytes", "trash_file_versions", "trash_bytes")


@dataclass(frozen=True)
class ProviderFigures:
    """A project's versions on one provider: counts and bytes, in use and in the trash."""

    provider_id: str
    active_file_versions: int = 0
    active_bytes: int = 0
    trash_file_versions: int = 0
    trash_bytes: int = 0


@dataclass(frozen=True)
class ProjectStats:
    """A project's figures: the totals, and per provider (ordered by provider id)."""

    project_id: str
    active_file_versions: int
    active_bytes: int
    trash_file_versions: int
    trash_bytes: int
    by_provider: tuple[ProviderFigures, ...]
    generation: int = 0  # the `wanted` counter the recount started from
    computed_at: float = 0.0


def stats_of(project_id: str, figures: Iterable[ProviderFigures]) -> ProjectStats:
    """The project's totals summed from its per-provider figures (generation and time 0)."""
    by_provider = tuple(sorted(figures, key=lambda f: f.provider_id))
    return ProjectStats(
        project_id,
        sum(f.active_file_versions for f in by_provider),
        sum(f.active_bytes for f in by_provider),
        sum(f.trash_file_versions for f in by_provider),
        sum(f.trash_bytes for f in by_provider),
        by_provider,
    )


class ProjectStore(Protocol):
    # Providers
    def ensure_provider(self, name: str, description: str, kind: str) -> Provider:
        """The provider of `kind`, made on the first call (later calls update its name and
        description and keep its id)."""

    def provider(self, provider_id: str) -> Provider | None: ...

    def providers(self) -> list[Provider]:
        """Every provider, by kind."""

    # Projects
    def create_project(
        self,
        organization_id: str,
        name: str,
        description: str,
        default_provider_id: str,
        at: float,
    ) -> Project: ...

    def project(self, project_id: str) -> Project | None: ...

    def update_project(
        self,
        project_id: str,
        name: str | None = None,
        description: str | None = None,
        default_provider_id: str | None = None,
    ) -> Project | None:
        """Change the given fields (None: kept); the updated project, or None when unknown."""

    def delete_project(self, project_id: str) -> bool:
        """The project, its members, files, versions, statistics and recount state; True when it
        existed. Remove the bytes of `versions_of_project` first."""

    def versions_of_project(self, project_id: str) -> list[FileVersion]:
        """Every version of the project, in the trash or not."""

    def projects_of_organization(
        self, organization_id: str, offset: int, limit: int
    ) -> Page[Project]:
        """The organization's projects, by name then id."""

    def projects_of_account(
        self, account_id: str, offset: int, limit: int
    ) -> Page[tuple[Project, str]]:
        """The projects the account is a member of, with its role id; by name then id."""

    # Members
    def set_member(self, project_id: str, account_id: str, role_id: str, at: float) -> Member:
        """Add the account with that role, or change its role (keeping `added_at`).
        ValueError for a role not in ROLES; UnknownProject."""

    def remove_member(self, project_id: str, account_id: str) -> bool: ...

    def member(self, project_id: str, account_id: str) -> Member | None: ...

    def members(self, project_id: str) -> list[Member]:
        """The project's members, by when they were added, then account id."""

    # Files and versions
    def create_file(self, project_id: str, name: str, at: float) -> StoredFile:
        """A new file with no version yet; UnknownProject."""

    def add_version(
        self,
        file_id: str,
        size: int,
        sha256: str,
        provider_id: str,
        at: float,
        version_id: str | None = None,
    ) -> FileVersion:
        """The file's next version (its number one more than the highest), never the same
        number twice under concurrent callers; UnknownFile when unknown or in the trash.
        `version_id`: the id its bytes were already stored under (a new one when None)."""

    def file(self, file_id: str) -> StoredFile | None: ...

    def files(self, project_id: str, trashed: bool, offset: int, limit: int) -> Page[StoredFile]:
        """The project's files in the trash (`trashed`) or not, oldest first (then id)."""

    def versions(self, file_id: str) -> list[FileVersion]:
        """The file's versions by number."""

    def version(self, version_id: str) -> FileVersion | None: ...

    # Trash
    def trash_file(self, file_id: str, at: float) -> bool:
        """The file and its versions into the trash at `at`; False when unknown or trashed."""

    def restore_file(self, file_id: str) -> bool:
        """The file and its versions out of the trash; False when unknown or not trashed."""

    def purge_file(self, file_id: str) -> list[FileVersion]:
        """Delete a trashed file and its versions, returning the versions (remove their bytes);
        [] when the file is unknown or not in the trash."""

    def expired_trash(self, before: float, limit: int) -> list[StoredFile]:
        """Trashed files with `trashed_at < before`, oldest first (then id)."""

    # Statistics
    def recount(self, project_id: str) -> ProjectStats:
        """The project's figures counted from its versions now (generation and time 0)."""

    def put_stats(self, stats: ProjectStats) -> bool:
        """Store the document unless the stored one has a higher generation; True when stored."""

    def stats(self, project_id: str) -> ProjectStats | None: ...

    def stats_many(self, project_ids: Iterable[str]) -> dict[str, ProjectStats]:
        """The stored documents of those projects that have one, in one query."""

    def summed_stats(self, project_ids: Iterable[str]) -> ProjectStats:
        """The stored documents of those projects added up, per provider too, by the store
        itself (a caller's totals over a thousand projects build no record per project);
        `project_id` empty, generation and time 0."""

    # Coalesced recounts
    def want_recount(self, project_id: str, at: float) -> bool:
        """Count one event making the figures stale; True only when no recount was pending
        (then the caller enqueues one)."""

    def start_recount(self, project_id: str) -> int:
        """The events counted so far: the generation the recount starting now produces."""

    def finish_recount(self, project_id: str, generation: int) -> bool:
        """After storing `generation`: True when events came in since (recount again), else
        the project goes idle and False."""

    def pending_recounts(self, since_before: float, limit: int) -> list[str]:
        """Projects pending since before `since_before`, oldest first: a recount whose task was
        lost (a sweeper enqueues them again; a duplicate task is harmless)."""
