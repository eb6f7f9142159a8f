"""Accounts and stores on the API: `POST /api/auth` trades an API key for a bearer token,
`require_principal()` is how a route learns which active account calls it, and
`require_storefront()` which store (a store's key gives a store's token; a blocked store is 403
`STORE_BLOCKED`, at `POST /api/auth` as on its routes).

Bearer errors (each a 401 with `WWW-Authenticate: Bearer`):
`NOT_AUTHENTICATED` "Not authenticated" (no `Authorization: Bearer` header, or a malformed one),
`INVALID_CREDENTIALS` "Could not validate credentials" (a bad signature, an unknown or inactive
account or organization, a revoked key), `TOKEN_EXPIRED` "JWT token expired".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeGuard

from flask import Response, g, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api import account_tokens
from api.auth import parse_bearer
from api.errors import ApiError
from api.jsonio import json_response
from api.schemas import ErrorResponse, RateLimitedResponse
from api.services import get_settings, get_store, now, server_secret
from storage.identity import Account, ApiKey, Organization, Storefront

ACCOUNT_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from `POST /api/auth`.",
}
ACCOUNT_SECURITY: list[dict[str, list[str]]] = [{"accountToken": []}]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

bp = APIBlueprint(
    "identity",
    __name__,
    abp_tags=[Tag(name="accounts", description="API keys, access tokens, organizations")],
)


@dataclass(frozen=True)
class Principal:
    """The active account behind a request, and its organization."""

    account: Account
    organization: Organization


class AuthBody(BaseModel):
    api_key: str = Field(min_length=1, max_length=256, description="An API key of an account")


class TokenResponse(BaseModel):
    access_token: str = Field(description="A signed JWT, sent as `Authorization: Bearer ...`")
    token_type: str = Field("Bearer", description="Always `Bearer`")


# What every route behind an account or store token may answer besides its own outcomes.
BEARER_ROUTE_RESPONSES: dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None] = {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    429: RateLimitedResponse,
}


def not_authenticated() -> ApiError:
    return ApiError(401, "NOT_AUTHENTICATED", "Not authenticated", _CHALLENGE)


def invalid_credentials() -> ApiError:
    return ApiError(401, "INVALID_CREDENTIALS", "Could not validate credentials", _CHALLENGE)


def token_expired() -> ApiError:
    return ApiError(401, "TOKEN_EXPIRED", "JWT token expired", _CHALLENGE)


@bp.post(
    "/api/auth",
    responses={
        200: TokenResponse,
        400: ErrorResponse,
        401: ErrorResponse,
        403: ErrorResponse,
        429: RateLimitedResponse,
    },
    summary="Trade an API key for an access token",
)
def authenticate(body: AuthBody) -> Response:
    """An access token for the key's account, or its store for a store's key, valid
    `JWT_EXPIRES_SECONDS` (default 1 hour).

    401 `INVALID_CREDENTIALS` for an unknown or revoked key, an inactive account or
    organization, a deleted store; 403 `STORE_BLOCKED` for a blocked store's key.
    """
    key = get_store().identity.api_keys.find(body.api_key)
    if key is None or key.is_revoked:
        raise invalid_credentials()
    if key.storefront_id is not None:
        storefront = _usable_storefront(key.storefront_id)
        g.storefront = storefront  # the audit log files this call under the store's organization
        return _token_answer(key, storefront.id, storefront.organization_id, store=True)
    principal = _active_principal(key.account_id)
    g.principal = principal  # the audit log files this call under the key's account
    return _token_answer(key, principal.account.id, principal.organization.id)


def _token_answer(key: ApiKey, subject: str, organization_id: str, store: bool = False) -> Response:
    """The key's use recorded, and a token for its account (or store) in `POST /api/auth`'s
    answer."""
    _mark_used(key)
    token = account_tokens.issue(
        subject,
        key.id,
        server_secret(),
        now(),
        get_settings().jwt_expires_seconds,
        organization_id,
        store=store,
    )
    return json_response({"access_token": token, "token_type": "Bearer"})


def store_blocked() -> ApiError:
    return ApiError(403, "STORE_BLOCKED", "This store is blocked")


def require_storefront() -> Storefront:
    """The store of the request's bearer token (a store's token, its key live); else the
    matching 401, or 403 `STORE_BLOCKED` for a blocked store."""
    cached = g.get("storefront")
    if cached is not None:
        return cached
    storefront = storefront_of(request.headers.get("Authorization", ""))
    g.storefront = storefront
    return storefront


def storefront_of(authorization: str) -> Storefront:
    """The store an `Authorization` header's token names, its key live and its use recorded;
    else the matching `ApiError`. Needs an app context only (`api.event_path` calls it before
    Flask has a request)."""
    token = parse_bearer(authorization)
    if token is None:
        raise not_authenticated()
    claims = _claims(token)
    key = get_store().identity.api_keys.get(claims.key_id)
    if not claims.is_store or not _live_key(key, storefront_id=claims.account_id):
        raise invalid_credentials()
    storefront = _usable_storefront(claims.account_id)
    _mark_used(key)
    return storefront


def bearer_is_a_store() -> bool:
    """Whether the request's bearer token is a store's (its signature checked; whether its key
    is live is for `require_storefront` or `require_principal`); else the matching 401."""
    token = parse_bearer(request.headers.get("Authorization", ""))
    if token is None:
        raise not_authenticated()
    return _claims(token).is_store


def _usable_storefront(storefront_id: str) -> Storefront:
    identity = get_store().identity
    storefront = identity.storefronts.get(storefront_id)
    if storefront is None:
        raise invalid_credentials()
    organization = identity.organizations.get(storefront.organization_id)
    if organization is None or not organization.is_active:
        raise invalid_credentials()
    if not storefront.is_active:
        raise store_blocked()
    return storefront


def _claims(token: str) -> account_tokens.TokenClaims:
    try:
        return account_tokens.read(token, server_secret(), now())
    except account_tokens.TokenExpired:
        raise token_expired() from None
    except account_tokens.TokenInvalid:
        raise invalid_credentials() from None


def require_principal() -> Principal:
    """The account of the request's bearer token; else raise the matching 401."""
    cached = g.get("principal")
    if cached is not None:
        return cached
    token = parse_bearer(request.headers.get("Authorization", ""))
    if token is None:
        raise not_authenticated()
    principal = principal_of(token)
    g.principal = principal
    return principal


def principal_of(token: str) -> Principal:
    """The active account a token names, its key still live; else raise the matching 401."""
    claims = _claims(token)
    if claims.is_store:
        raise invalid_credentials()
    key = get_store().identity.api_keys.get(claims.key_id)
    if not _live_key(key, storefront_id=None) or key.account_id != claims.account_id:
        raise invalid_credentials()
    principal = _active_principal(claims.account_id)
    _mark_used(key)
    return principal


def _live_key(key: ApiKey | None, storefront_id: str | None) -> TypeGuard[ApiKey]:
    """A key that is not revoked and is that store's, or (None) its account's own: a store's
    key (made by an account for its store) never stands for that account, nor the reverse."""
    return key is not None and not key.is_revoked and key.storefront_id == storefront_id


def _active_principal(account_id: str) -> Principal:
    identity = get_store().identity
    account = identity.accounts.get(account_id)
    if account is None or not account.is_active:
        raise invalid_credentials()
    organization = identity.organizations.get(account.organization_id)
    if organization is None or not organization.is_active:
        raise invalid_credentials()
    return Principal(account, organization)


def _mark_used(key: ApiKey) -> None:
    today = datetime.fromtimestamp(now(), UTC).date().isoformat()
    if key.last_used_day != today:
        get_store().identity.api_keys.mark_used(key.id, today)
