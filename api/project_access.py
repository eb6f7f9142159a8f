"""Who may do what in a project (issue 15): the caller's role there, or every permission for a
superuser of the project's organization.

A project of another organization, or one that does not exist, is 404 `UNKNOWN_PROJECT` (never
telling one from the other); a project of the caller's organization without the permission
asked is 403 `FORBIDDEN`.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import ApiError
from api.identity import Principal, require_principal
from api.services import get_store
from storage.projects import PERMISSIONS, ROLES, Project, Role

SUPERUSER_ROLE = Role("organization_superuser", "Organization superuser", PERMISSIONS)
ADMIN_ROLE = "project_admin"


@dataclass(frozen=True)
class Access:
    """The caller, the project and the role the caller holds there."""

    principal: Principal
    project: Project
    role: Role

    @property
    def administers(self) -> bool:
        return administers(self.role)


def administers(role: Role) -> bool:
    """Project admins and the organization's superusers."""
    return role.id in (SUPERUSER_ROLE.id, ADMIN_ROLE)


def unknown_project() -> ApiError:
    return ApiError(404, "UNKNOWN_PROJECT", "no project has this id")


def project_access(project_id: str, permission: str) -> Access:
    """The caller's access to the project when it holds `permission` there; else 401, 403 or
    404."""
    principal = require_principal()
    project = get_store().projects.project(project_id)
    if project is None or project.organization_id != principal.organization.id:
        raise unknown_project()
    role = role_of(principal, project)
    if role is None or permission not in role.permissions:
        raise ApiError(403, "FORBIDDEN", f"this needs the {permission} permission")
    return Access(principal, project, role)


def role_of(principal: Principal, project: Project) -> Role | None:
    """The caller's role in the project (the superuser's for an organization's superuser)."""
    if principal.account.is_superuser:
        return SUPERUSER_ROLE
    member = get_store().projects.member(project.id, principal.account.id)
    return None if member is None else ROLES[member.role_id]
