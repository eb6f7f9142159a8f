"""The admin's store routes (issue 13): list, create, rename or block, delete; and
`GET /api/store/me` for a store's own token.

`GET /api/store`, `POST /api/store`, `PATCH /api/store/<id>`, `DELETE /api/store/<id>`, each
with an account token of an active superuser (401 without a valid one, 403 `FORBIDDEN` for any
other account). A store is a `storage.identity.Storefront`; deleting one deletes its keys and
its shoppers.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field, RootModel, model_validator

from api.admin import UUID_PATTERN, require_superuser, unknown_organization
from api.errors import ApiError
from api.event_deletion import delete_store_events
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, require_storefront
from api.jsonio import json_response
from api.pagination import PageQuery, page_headers
from api.schemas import ErrorResponse
from api.services import get_shopper_vault, get_store, now
from storage.identity import Storefront, UnknownOrganization

STORES_TAG = Tag(name="stores", description="Online stores and their shoppers' statistics")

bp = APIBlueprint(
    "storefronts",
    __name__,
    url_prefix="/api/store",
    abp_tags=[STORES_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)


class StoreBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    organization_id: str = Field(pattern=UUID_PATTERN)


class StoreChanges(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    is_active: bool | None = Field(None, description="false blocks the store's keys (403)")

    @model_validator(mode="after")
    def _something_to_change(self) -> StoreChanges:
        if self.name is None and self.is_active is None:
            raise ValueError("give a new name, is_active, or both")
        return self


class StorePath(BaseModel):
    store_id: str = Field(pattern=UUID_PATTERN)


class StoresQuery(PageQuery):
    organization_id: str | None = Field(None, pattern=UUID_PATTERN)


class StoreOut(BaseModel):
    id: str
    name: str
    is_active: bool


class StoreList(RootModel[list[StoreOut]]):
    pass


class StoreDetail(StoreOut):
    organization_id: str
    created_at: float = Field(description="UTC epoch seconds")


class MessageOut(BaseModel):
    message: str


def store_json(storefront: Storefront) -> dict[str, Any]:
    return {"id": storefront.id, "name": storefront.name, "is_active": storefront.is_active}


def store_detail_json(storefront: Storefront) -> dict[str, Any]:
    return {
        **store_json(storefront),
        "organization_id": storefront.organization_id,
        "created_at": round(storefront.created_at, 3),
    }


def unknown_store() -> ApiError:
    return ApiError(404, "UNKNOWN_STORE", "no store has this id")


@bp.get("/me", summary="The calling store (a store's token)", responses={200: StoreDetail})
def me() -> Response:
    """The store whose key the bearer token was traded for; 403 `STORE_BLOCKED` once blocked."""
    return json_response(store_detail_json(require_storefront()))


@bp.get(
    "",
    summary="List stores, of one organization or all (superuser)",
    responses={200: StoreList},
)
def list_stores(query: StoresQuery) -> Response:
    """A JSON array of `{id, name, is_active}`, oldest first, a page at a time (`page`,
    `per_page`; the `X-Total`... headers tell the rest)."""
    require_superuser()
    page = get_store().identity.storefronts.list(
        query.organization_id, query.offset, query.per_page
    )
    return json_response([store_json(s) for s in page.items], 200, page_headers(query, page.total))


@bp.post(
    "",
    summary="Create a store in an organization (superuser)",
    responses={201: StoreDetail, 404: ErrorResponse},
)
def create_store(body: StoreBody) -> Response:
    require_superuser()
    try:
        storefront = get_store().identity.storefronts.create(body.name, body.organization_id, now())
    except UnknownOrganization:
        raise unknown_organization() from None
    return json_response(store_detail_json(storefront), 201)


@bp.patch(
    "/<store_id>",
    summary="Rename, block or unblock a store (superuser)",
    responses={200: StoreDetail, 404: ErrorResponse},
)
def update_store(path: StorePath, body: StoreChanges) -> Response:
    require_superuser()
    storefront = get_store().identity.storefronts.update(
        path.store_id, name=body.name, is_active=body.is_active
    )
    if storefront is None:
        raise unknown_store()
    return json_response(store_detail_json(storefront))


@bp.delete(
    "/<store_id>",
    summary="Delete a store, its keys and its users (superuser)",
    responses={200: MessageOut, 404: ErrorResponse},
)
def delete_store(path: StorePath) -> Response:
    """The events and the shoppers' personal information go first: a failure after them leaves
    a store with no events or shoppers (deleted again by the next try), never shoppers or
    events without their store."""
    require_superuser()
    storefronts = get_store().identity.storefronts
    if storefronts.get(path.store_id) is None:
        raise unknown_store()
    delete_store_events(path.store_id)
    get_shopper_vault().delete_store(path.store_id)
    if not storefronts.delete(path.store_id):
        raise unknown_store()
    return json_response({"message": "Store successfully deleted"})
