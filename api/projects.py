"""Projects and their members (issue 15; design in docs/projects.md).

Any active account creates a project in its organization and becomes its `project_admin`.
Reading a project needs `view_project`; renaming or deleting it needs to administer it (project
admin or organization superuser); members are managed with `manage_project_permissions`.
Roles and storage providers are listed for every account.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field

from api.admin import EMAIL_PATTERN, UUID_PATTERN, account_of_organization
from api.errors import ApiError
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, require_principal
from api.jsonio import json_response
from api.pagination import PageQuery, page_headers
from api.project_access import Access, project_access, unknown_project
from api.project_stats import PROJECTS_TAG, ProjectPath, viewable_projects
from api.schemas import ErrorResponse
from api.services import get_settings, get_store, now
from storage.file_bytes import GRIDFS_KIND, LOCAL_KIND, ProjectFileBytes, remove_bytes
from storage.projects import ROLES, Member, Project, Provider

LOCAL_PROVIDER = ("Local disk", "Files under the server's data directory")
GRIDFS_PROVIDER = ("MongoDB GridFS", "Files in the MongoDB store's GridFS")

bp = APIBlueprint(
    "projects",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[PROJECTS_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class ProjectBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    default_provider_id: str | None = Field(None, pattern=UUID_PATTERN)


class ProjectPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    default_provider_id: str | None = Field(None, pattern=UUID_PATTERN)


class MemberBody(BaseModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    role: str = Field(description="A role id of GET /api/v1/project-roles")


class MemberPath(ProjectPath):
    account_id: str = Field(pattern=UUID_PATTERN)


class ProviderOut(BaseModel):
    id: str
    name: str
    description: str


class RoleOut(BaseModel):
    id: str
    name: str
    permissions: list[str]


class ProjectOut(BaseModel):
    id: str
    name: str
    description: str
    organization_id: str
    default_provider: ProviderOut
    created_at: float = Field(description="UTC epoch seconds")


class MemberOut(BaseModel):
    account_id: str
    email: str
    role: RoleOut


class ProjectList(BaseModel):
    results: list[ProjectOut]


class MemberList(BaseModel):
    results: list[MemberOut]


class RoleList(BaseModel):
    results: list[RoleOut]


class ProviderList(BaseModel):
    results: list[ProviderOut]


@bp.get("/project-roles", summary="The project roles and their permissions",
        responses={200: RoleList})  # fmt: skip
def list_roles() -> Response:
    require_principal()
    return json_response({"results": [_role_json(role_id) for role_id in ROLES]})


@bp.get("/storage-providers", summary="Where project files can be kept",
        responses={200: ProviderList})  # fmt: skip
def list_providers() -> Response:
    require_principal()
    local_provider()
    return json_response({"results": [_provider_json(p) for p in get_store().projects.providers()]})


@bp.post("/projects", summary="Create a project (its creator becomes its admin)",
         responses={201: ProjectOut, 404: ErrorResponse})  # fmt: skip
def create_project(body: ProjectBody) -> Response:
    """404 `UNKNOWN_PROVIDER` for a provider id that is none."""
    principal = require_principal()
    provider = _provider(body.default_provider_id) if body.default_provider_id else None
    provider = provider or local_provider()
    projects = get_store().projects
    project = projects.create_project(
        principal.organization.id, body.name, body.description, provider.id, now()
    )
    projects.set_member(project.id, principal.account.id, "project_admin", now())
    return json_response(_project_json(project), 201)


@bp.get("/projects", summary="The projects the caller can view", responses={200: ProjectList})
def list_projects(query: PageQuery) -> Response:
    page = viewable_projects(require_principal(), query.offset, query.per_page)
    results = [_project_json(project) for project, _ in page.items]
    return json_response({"results": results}, headers=page_headers(query, page.total))


@bp.get("/projects/<project_id>", summary="One project",
        responses={200: ProjectOut, 404: ErrorResponse})  # fmt: skip
def get_project(path: ProjectPath) -> Response:
    return json_response(_project_json(project_access(path.project_id, "view_project").project))


@bp.patch("/projects/<project_id>", summary="Rename a project, or change its default provider",
          responses={200: ProjectOut, 404: ErrorResponse})  # fmt: skip
def update_project(path: ProjectPath, body: ProjectPatch) -> Response:
    """Project admins and organization superusers only (403 `FORBIDDEN`)."""
    access = _administered(path.project_id)
    if body.default_provider_id is not None:
        _provider(body.default_provider_id)
    updated = get_store().projects.update_project(
        access.project.id, body.name, body.description, body.default_provider_id
    )
    if updated is None:
        raise unknown_project()
    return json_response(_project_json(updated))


@bp.delete("/projects/<project_id>", summary="Delete a project, its files and their bytes",
           responses={200: ErrorResponse, 404: ErrorResponse})  # fmt: skip
def delete_project(path: ProjectPath) -> Response:
    """Every version's key and bytes go first, then the records. Admins only."""
    access = _administered(path.project_id)
    projects = get_store().projects
    remove_bytes(projects, project_file_bytes(), projects.versions_of_project(access.project.id))
    projects.delete_project(access.project.id)
    return json_response({"message": "Project successfully deleted"})


@bp.get("/projects/<project_id>/members", summary="A project's members and their roles",
        responses={200: MemberList, 404: ErrorResponse})  # fmt: skip
def list_members(path: ProjectPath) -> Response:
    access = project_access(path.project_id, "view_project")
    members = get_store().projects.members(access.project.id)
    return json_response({"results": [_member_json(m) for m in members]})


@bp.put("/projects/<project_id>/members", summary="Give an account a role in a project",
        responses={200: MemberOut, 404: ErrorResponse})  # fmt: skip
def set_member(path: ProjectPath, body: MemberBody) -> Response:
    """`manage_project_permissions` needed; 404 `UNKNOWN_ACCOUNT` for an e-mail that is no
    account of the organization, 400 `UNKNOWN_ROLE` for a role id that is none."""
    access = project_access(path.project_id, "manage_project_permissions")
    if body.role not in ROLES:
        raise ApiError(400, "UNKNOWN_ROLE", "no project role has this id")
    account = account_of_organization(body.email, access.project.organization_id)
    member = get_store().projects.set_member(access.project.id, account.id, body.role, now())
    return json_response(_member_json(member))


@bp.delete("/projects/<project_id>/members/<account_id>", summary="Take a member out",
           responses={200: ErrorResponse, 404: ErrorResponse})  # fmt: skip
def remove_member(path: MemberPath) -> Response:
    """`manage_project_permissions` needed; 404 `UNKNOWN_MEMBER` for an account that is none."""
    access = project_access(path.project_id, "manage_project_permissions")
    if not get_store().projects.remove_member(access.project.id, path.account_id):
        raise ApiError(404, "UNKNOWN_MEMBER", "this account is not a member of the project")
    return json_response({"message": "Member successfully removed"})


def local_provider() -> Provider:
    """The local filesystem's provider, made on first use (GridFS's too when MongoDB is the
    store)."""
    projects = get_store().projects
    if get_store().gridfs_database is not None:
        projects.ensure_provider(*GRIDFS_PROVIDER, GRIDFS_KIND)
    return projects.ensure_provider(*LOCAL_PROVIDER, LOCAL_KIND)


def project_file_bytes() -> ProjectFileBytes:
    settings = get_settings()
    return ProjectFileBytes(
        settings.project_files_dir, settings.server_secret(), get_store().gridfs_database
    )


def _administered(project_id: str) -> Access:
    access = project_access(project_id, "view_project")
    if not access.administers:
        raise ApiError(403, "FORBIDDEN", "only the project's admins may do this")
    return access


def _provider(provider_id: str) -> Provider:
    provider = get_store().projects.provider(provider_id)
    if provider is None:
        raise ApiError(404, "UNKNOWN_PROVIDER", "no storage provider has this id")
    return provider


def _provider_json(provider: Provider) -> dict[str, str]:
    return {"id": provider.id, "name": provider.name, "description": provider.description}


def _role_json(role_id: str) -> dict[str, Any]:
    role = ROLES[role_id]
    return {"id": role.id, "name": role.name, "permissions": sorted(role.permissions)}


def _project_json(project: Project) -> dict[str, Any]:
    provider = get_store().projects.provider(project.default_provider_id)
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "organization_id": project.organization_id,
        "default_provider": _provider_json(provider) if provider else None,
        "created_at": project.created_at,
    }


def _member_json(member: Member) -> dict[str, Any]:
    account = get_store().identity.accounts.get(member.account_id)
    return {
        "account_id": member.account_id,
        "email": account.email if account else "",
        "role": _role_json(member.role_id),
    }
