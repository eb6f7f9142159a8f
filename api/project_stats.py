"""Projects' storage statistics (issue 15): the documents workers computed, served as stored.

`GET /api/v1/projects/stats` (and `/api/v1/project/stats`): every project the caller can view,
paginated; `GET /api/v1/projects/<id>/stats`: one; `GET /api/v1/current_user/stats`: the
caller's totals over the projects it administers and those it is a member of;
`GET /api/v1/current_user/usage` (deprecated): project, file version and byte counts. A project
whose figures were never computed (no file yet) answers zeros.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api.admin import UUID_PATTERN
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, Principal, require_principal
from api.jsonio import json_response
from api.pagination import PageQuery, page_headers
from api.project_access import SUPERUSER_ROLE, administers, project_access
from api.schemas import ErrorResponse
from api.services import get_store
from storage.identity import Page
from storage.projects import COUNTERS, ROLES, Project, ProjectStats, Provider, ProviderFigures, Role

PROJECTS_TAG = Tag(name="projects", description="Projects, their files, trash and statistics")
ALL_PROJECTS = 10**9  # a caller's every project, for its totals

bp = APIBlueprint(
    "project_stats",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[PROJECTS_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class ProjectPath(BaseModel):
    project_id: str = Field(pattern=UUID_PATTERN)


class Counters(BaseModel):
    active_file_versions: int
    active_bytes: int
    trash_file_versions: int
    trash_bytes: int


class ProviderCounters(Counters):
    id: str
    name: str
    description: str


class StatsOut(Counters):
    by_storage_provider: list[ProviderCounters]


class NamedRef(BaseModel):
    id: str
    name: str


class ProjectStatsOut(BaseModel):
    project: NamedRef
    current_user_auth_role: NamedRef
    stats: StatsOut


class ProjectStatsList(BaseModel):
    results: list[ProjectStatsOut]


class UserStatsOut(BaseModel):
    administered_projects: int
    member_projects: int
    administered: StatsOut = Field(description="Projects the caller administers")
    member: StatsOut = Field(description="Projects the caller is a member of, not an admin")
    total: StatsOut


class UsageOut(BaseModel):
    projects: int
    file_versions: int
    bytes: int


@bp.get(
    "/projects/stats",
    summary="Storage statistics of every project the caller can view",
    responses={200: ProjectStatsList},
)
def projects_stats(query: PageQuery) -> Response:
    return _stats_page(query)


@bp.get(
    "/project/stats",
    summary="Storage statistics of every project the caller can view (same answer)",
    responses={200: ProjectStatsList},
)
def project_stats_alias(query: PageQuery) -> Response:
    return _stats_page(query)


@bp.get(
    "/projects/<project_id>/stats",
    summary="Storage statistics of one project",
    responses={200: ProjectStatsOut, 404: ErrorResponse},
)
def one_project_stats(path: ProjectPath) -> Response:
    """403 without `view_project`, 404 for an unknown or deleted project."""
    access = project_access(path.project_id, "view_project")
    stats = get_store().projects.stats(access.project.id)
    return json_response(_result(access.project, access.role, stats, _providers()))


@bp.get(
    "/current_user/stats",
    summary="The caller's totals over the projects it can view",
    responses={200: UserStatsOut},
)
def current_user_stats() -> Response:
    """Split into projects the caller administers (project admin, or organization superuser)
    and those it is a member of: the stored documents added up by the store."""
    principal = require_principal()
    viewable = viewable_projects(principal, 0, ALL_PROJECTS).items
    administered = [project.id for project, role in viewable if administers(role)]
    member = [project.id for project, role in viewable if not administers(role)]
    projects, providers = get_store().projects, _providers()
    body = {
        "administered_projects": len(administered),
        "member_projects": len(member),
        "administered": _stats_json(projects.summed_stats(administered), providers),
        "member": _stats_json(projects.summed_stats(member), providers),
        "total": _stats_json(projects.summed_stats(administered + member), providers),
    }
    return json_response(body)


@bp.get(
    "/current_user/usage",
    summary="The caller's project, file version and byte counts (deprecated)",
    responses={200: UsageOut},
    deprecated=True,
)
def current_user_usage() -> Response:
    """Deprecated: `GET /api/v1/current_user/stats` says the same and more."""
    principal = require_principal()
    viewable = viewable_projects(principal, 0, ALL_PROJECTS).items
    summed = get_store().projects.summed_stats([project.id for project, _ in viewable])
    return json_response(
        {
            "projects": len(viewable),
            "file_versions": summed.active_file_versions + summed.trash_file_versions,
            "bytes": summed.active_bytes + summed.trash_bytes,
        }
    )


def _stats_page(query: PageQuery) -> Response:
    page = viewable_projects(require_principal(), query.offset, query.per_page)
    stored = get_store().projects.stats_many([project.id for project, _ in page.items])
    providers = _providers()
    results = [_result(p, role, stored.get(p.id), providers) for p, role in page.items]
    return json_response({"results": results}, headers=page_headers(query, page.total))


def viewable_projects(principal: Principal, offset: int, limit: int) -> Page[tuple[Project, Role]]:
    """The projects the caller can view, with its role in each: an organization superuser's
    every project of the organization, else those it is a member of."""
    projects = get_store().projects
    if principal.account.is_superuser:
        page = projects.projects_of_organization(principal.organization.id, offset, limit)
        return Page([(p, SUPERUSER_ROLE) for p in page.items], page.total)
    memberships = projects.projects_of_account(principal.account.id, offset, limit)
    return Page([(p, ROLES[role_id]) for p, role_id in memberships.items], memberships.total)


def _providers() -> dict[str, Provider]:
    return {provider.id: provider for provider in get_store().projects.providers()}


def _result(
    project: Project, role: Role, stats: ProjectStats | None, providers: dict[str, Provider]
) -> dict[str, Any]:
    return {
        "project": {"id": project.id, "name": project.name},
        "current_user_auth_role": {"id": role.id, "name": role.name},
        "stats": _stats_json(stats, providers),
    }


def _stats_json(stats: ProjectStats | None, providers: dict[str, Provider]) -> dict[str, Any]:
    """A `stats` object: the counters and one entry per provider (None: never computed, zeros)."""
    if stats is None:
        return {**dict.fromkeys(COUNTERS, 0), "by_storage_provider": []}
    by_provider = [
        {
            **_provider_json(providers, f.provider_id),
            **{name: getattr(f, name) for name in COUNTERS},
        }
        for f in stats.by_provider
    ]
    return {**_counters(stats), "by_storage_provider": by_provider}


def _counters(figures: ProjectStats | ProviderFigures) -> dict[str, int]:
    return {name: getattr(figures, name) for name in COUNTERS}


def _provider_json(providers: dict[str, Provider], provider_id: str) -> dict[str, str]:
    provider = providers.get(provider_id)
    if provider is None:  # a provider removed since: its figures are still the project's
        return {"id": provider_id, "name": "", "description": ""}
    return {"id": provider.id, "name": provider.name, "description": provider.description}
