"""A store's shoppers (issue 13): `POST /api/user`, `GET /api/user/<email>`, `PATCH /api/user`,
`DELETE /api/user/<user_id>`, each with a store's token (`api.identity.require_storefront`).

A store sees and changes its own shoppers only: another store's shopper is unknown to it (404).
The personal fields go to the shopper vault (`storage.shoppers`: sealed, found by a keyed hash of
the e-mail); every other record of a shopper carries its UUID only. The access log, the audit
log and the metrics name the route template (`/api/user/<email>`), never the address.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field, model_validator

from api.admin import EMAIL_PATTERN, UUID_PATTERN
from api.errors import ApiError
from api.event_deletion import delete_shopper_events
from api.identity import ACCOUNT_SECURITY, BEARER_ROUTE_RESPONSES, require_storefront
from api.jsonio import json_response
from api.schemas import ErrorResponse
from api.services import get_shopper_vault, now
from api.storefronts import STORES_TAG, MessageOut
from storage.shoppers import DuplicateShopper, Shopper, ShopperFields

bp = APIBlueprint(
    "shoppers",
    __name__,
    url_prefix="/api/user",
    abp_tags=[STORES_TAG],
    abp_security=ACCOUNT_SECURITY,
    abp_responses=BEARER_ROUTE_RESPONSES,
)

EMAIL = Field(max_length=254, pattern=EMAIL_PATTERN)


class ShopperBody(BaseModel):
    email: str = EMAIL
    username: str = Field("", max_length=100)
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    phone: str = Field("", max_length=40)


class ShopperChanges(BaseModel):
    """The shopper is found by `id`, else by `email`; the other fields given are changed (and
    `email` too when the shopper is found by `id`)."""

    id: str | None = Field(None, pattern=UUID_PATTERN)
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)
    username: str | None = Field(None, max_length=100)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _found_and_changed(self) -> ShopperChanges:
        if self.id is None and self.email is None:
            raise ValueError("give the user's id or email")
        if not self.changes():
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, str]:
        given = self.model_dump(exclude_none=True, exclude={"id"})
        if self.id is None:
            given.pop("email", None)  # the address finds the shopper: it is not a change
        return given


class EmailPath(BaseModel):
    email: str = Field(max_length=254)


class ShopperPath(BaseModel):
    user_id: str = Field(pattern=UUID_PATTERN)


class ShopperOut(BaseModel):
    id: str
    store_id: str
    email: str
    username: str
    first_name: str
    last_name: str
    phone: str
    created_at: float = Field(description="UTC epoch seconds")


class ShopperId(BaseModel):
    id: str


def shopper_json(shopper: Shopper) -> dict[str, Any]:
    return {
        "id": shopper.id,
        "store_id": shopper.store_id,
        **asdict(shopper.fields),
        "created_at": round(shopper.created_at, 3),
    }


def unknown_user() -> ApiError:
    return ApiError(404, "UNKNOWN_USER", "this store has no such user")


def user_exists() -> ApiError:
    return ApiError(409, "USER_EXISTS", "a user with this e-mail already exists in this store")


@bp.post(
    "",
    summary="Create a user of the calling store",
    responses={201: ShopperOut, 409: ErrorResponse},
)
def create_user(body: ShopperBody) -> Response:
    storefront = require_storefront()
    try:
        shopper = get_shopper_vault().create(
            storefront.id, ShopperFields(**body.model_dump()), now()
        )
    except DuplicateShopper:
        raise user_exists() from None
    return json_response(shopper_json(shopper), 201)


@bp.get(
    "/<email>",
    summary="The id of a user, by e-mail",
    responses={200: ShopperId, 404: ErrorResponse},
)
def find_user(path: EmailPath) -> Response:
    storefront = require_storefront()
    shopper = get_shopper_vault().find_by_email(storefront.id, path.email)
    if shopper is None:
        raise unknown_user()
    return json_response({"id": shopper.id})


@bp.patch(
    "",
    summary="Change a user's fields (found by id or e-mail)",
    responses={201: MessageOut, 404: ErrorResponse, 409: ErrorResponse},
)
def update_user(body: ShopperChanges) -> Response:
    storefront = require_storefront()
    vault = get_shopper_vault()
    shopper_id = body.id
    if shopper_id is None:
        found = vault.find_by_email(storefront.id, body.email or "")
        if found is None:
            raise unknown_user()
        shopper_id = found.id
    try:
        updated = vault.update(storefront.id, shopper_id, body.changes())
    except DuplicateShopper:
        raise user_exists() from None
    if updated is None:
        raise unknown_user()
    return json_response({"message": "User successfully updated"}, 201)


@bp.delete("/<user_id>", summary="Delete a user", responses={200: MessageOut, 404: ErrorResponse})
def delete_user(path: ShopperPath) -> Response:
    """The shopper's events go first (taken out of the counters): a failure after them leaves a
    shopper with no events (deleted again by the next try), never events without their
    shopper."""
    storefront = require_storefront()
    delete_shopper_events(storefront.id, path.user_id)
    if not get_shopper_vault().delete(storefront.id, path.user_id):
        raise unknown_user()
    return json_response({"message": "User successfully deleted"})
