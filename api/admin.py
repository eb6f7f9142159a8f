"""Superusers manage organizations and accounts: create, list (paginated), (de)activate.

Every route takes an account token (`api.identity`) of an active superuser: 401 without a valid
one, 403 `FORBIDDEN` for any other account. `GET /api/v1/accounts/me` is open to every account.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api.errors import ApiError
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, Principal, require_principal
from api.jsonio import json_response
from api.pagination import PageQuery, page_headers
from api.schemas import ErrorResponse
from api.services import get_store, now
from storage.identity import Account, DuplicateEmail, Organization, UnknownOrganization

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

bp = APIBlueprint(
    "admin",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="accounts", description="API keys, access tokens, organizations")],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class OrganizationBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class AccountBody(BaseModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    username: str = Field(min_length=1, max_length=100)
    organization_id: str = Field(pattern=UUID_PATTERN)
    is_superuser: bool = False


class ActiveBody(BaseModel):
    is_active: bool


class OrganizationPath(BaseModel):
    organization_id: str = Field(pattern=UUID_PATTERN)


class AccountPath(BaseModel):
    account_id: str = Field(pattern=UUID_PATTERN)


class AccountsQuery(PageQuery):
    organization_id: str | None = Field(None, pattern=UUID_PATTERN)


class OrganizationOut(BaseModel):
    id: str
    name: str
    is_active: bool


class AccountOut(BaseModel):
    id: str
    email: str
    username: str
    organization_id: str
    is_superuser: bool
    is_active: bool
    created_at: float = Field(description="UTC epoch seconds")


class MeOut(AccountOut):
    organization: OrganizationOut


class OrganizationList(BaseModel):
    results: list[OrganizationOut]


class AccountList(BaseModel):
    results: list[AccountOut]


def account_of_organization(email: str, organization_id: str) -> Account:
    """The account with this e-mail (any case) in the organization; else 404 `UNKNOWN_ACCOUNT`
    (an account of another organization is no one here)."""
    account = get_store().identity.accounts.get_by_email(email)
    if account is None or account.organization_id != organization_id:
        raise ApiError(404, "UNKNOWN_ACCOUNT", "no account of your organization has this e-mail")
    return account


def forbidden() -> ApiError:
    return ApiError(403, "FORBIDDEN", "Superuser rights are required")


def require_superuser() -> Principal:
    """The calling account when it is an active superuser; else 401 or 403 `FORBIDDEN`."""
    principal = require_principal()
    if not principal.account.is_superuser:
        raise forbidden()
    return principal


def unknown_organization() -> ApiError:
    return ApiError(404, "UNKNOWN_ORGANIZATION", "no organization has this id")


def organization_json(organization: Organization) -> dict[str, Any]:
    return {"id": organization.id, "name": organization.name, "is_active": organization.is_active}


def account_json(account: Account) -> dict[str, Any]:
    document = asdict(account)
    document["created_at"] = round(account.created_at, 3)
    return document


@bp.get("/accounts/me", summary="The calling account", responses={200: MeOut})
def me() -> Response:
    principal = require_principal()
    return json_response(
        {
            **account_json(principal.account),
            "organization": organization_json(principal.organization),
        }
    )


@bp.post(
    "/organizations", summary="Create an organization (superuser)", responses={201: OrganizationOut}
)
def create_organization(body: OrganizationBody) -> Response:
    require_superuser()
    organization = get_store().identity.organizations.create(body.name, now())
    return json_response(organization_json(organization), 201)


@bp.get(
    "/organizations", summary="List organizations (superuser)", responses={200: OrganizationList}
)
def list_organizations(query: PageQuery) -> Response:
    require_superuser()
    page = get_store().identity.organizations.list(query.offset, query.per_page)
    results = [organization_json(o) for o in page.items]
    return json_response({"results": results}, 200, page_headers(query, page.total))


@bp.patch(
    "/organizations/<organization_id>",
    summary="Activate or deactivate (superuser)",
    responses={200: OrganizationOut, 404: ErrorResponse},
)
def set_organization_active(path: OrganizationPath, body: ActiveBody) -> Response:
    require_superuser()
    organizations = get_store().identity.organizations
    if not organizations.set_active(path.organization_id, body.is_active):
        raise unknown_organization()
    organization = organizations.get(path.organization_id)
    assert organization is not None
    return json_response(organization_json(organization))


@bp.post(
    "/accounts",
    summary="Create an account (superuser)",
    responses={201: AccountOut, 404: ErrorResponse, 409: ErrorResponse},
)
def create_account(body: AccountBody) -> Response:
    require_superuser()
    try:
        account = get_store().identity.accounts.create(
            body.email, body.username, body.organization_id, body.is_superuser, now()
        )
    except DuplicateEmail:
        raise ApiError(409, "EMAIL_TAKEN", "an account with this e-mail already exists") from None
    except UnknownOrganization:
        raise unknown_organization() from None
    return json_response(account_json(account), 201)


@bp.get(
    "/accounts",
    summary="List accounts, of one organization or all (superuser)",
    responses={200: AccountList},
)
def list_accounts(query: AccountsQuery) -> Response:
    require_superuser()
    page = get_store().identity.accounts.list(query.organization_id, query.offset, query.per_page)
    results = [account_json(a) for a in page.items]
    return json_response({"results": results}, 200, page_headers(query, page.total))


@bp.patch(
    "/accounts/<account_id>",
    summary="Activate or deactivate an account (superuser)",
    responses={200: AccountOut, 404: ErrorResponse, 409: ErrorResponse},
)
def set_account_active(path: AccountPath, body: ActiveBody) -> Response:
    principal = require_superuser()
    if path.account_id == principal.account.id and not body.is_active:
        raise ApiError(409, "SELF_DEACTIVATION", "a superuser cannot deactivate itself")
    accounts = get_store().identity.accounts
    if not accounts.set_active(path.account_id, body.is_active):
        raise ApiError(404, "UNKNOWN_ACCOUNT", "no account has this id")
    account = accounts.get(path.account_id)
    assert account is not None
    return json_response(account_json(account))
