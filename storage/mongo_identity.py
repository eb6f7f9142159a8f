"""Identity on MongoDB: one collection each, `_id` the record's UUID."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.identity import (
    PREFIX_LENGTH,
    Account,
    ApiKey,
    DuplicateEmail,
    Organization,
    Page,
    Storefront,
    UnknownOrganization,
    hash_api_key,
    normalize_email,
)

_OLDEST_FIRST = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _organization(doc: dict[str, Any]) -> Organization:
    return Organization(doc["_id"], doc["name"], doc["is_active"], doc["created_at"])


def _account(doc: dict[str, Any]) -> Account:
    return Account(
        doc["_id"], doc["email"], doc["username"], doc["organization_id"],
        doc["is_superuser"], doc["is_active"], doc["created_at"],
    )  # fmt: skip


def _account_fields(account: Account) -> dict[str, Any]:
    return {
        "email": account.email,
        "username": account.username,
        "organization_id": account.organization_id,
        "is_superuser": account.is_superuser,
        "is_active": account.is_active,
        "created_at": account.created_at,
    }


def _key(doc: dict[str, Any]) -> ApiKey:
    return ApiKey(
        doc["_id"], doc["account_id"], doc["name"], doc["prefix"], doc["created_at"],
        doc.get("revoked_at"), doc.get("last_used_day"), doc.get("storefront_id"),
    )  # fmt: skip


def _storefront(doc: dict[str, Any]) -> Storefront:
    return Storefront(
        doc["_id"], doc["name"], doc["organization_id"], doc["is_active"], doc["created_at"]
    )


def _require_organization(organizations, organization_id: str) -> None:
    if organizations.count_documents({"_id": organization_id}, limit=1) == 0:
        raise UnknownOrganization(organization_id)


def _organization_page(
    collection, organization_id: str | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a collection's documents, oldest first, of one organization or all; and
    their total."""
    query = {"organization_id": organization_id} if organization_id else {}
    docs = list(collection.find(query).sort(_OLDEST_FIRST).skip(offset).limit(limit))
    return docs, collection.count_documents(query)


class MongoOrganizations:
    def __init__(self, collection):
        self._c = collection

    def create(self, name: str, now: float) -> Organization:
        organization = Organization(str(uuid.uuid4()), name, True, now)
        self._c.insert_one(
            {"_id": organization.id, "name": name, "is_active": True, "created_at": now}
        )
        return organization

    def get(self, organization_id: str) -> Organization | None:
        doc = self._c.find_one({"_id": organization_id})
        return _organization(doc) if doc else None

    def list(self, offset: int, limit: int) -> Page[Organization]:
        docs = self._c.find({}).sort(_OLDEST_FIRST).skip(offset).limit(limit)
        return Page([_organization(doc) for doc in docs], self._c.count_documents({}))

    def set_active(self, organization_id: str, active: bool) -> bool:
        result = self._c.update_one({"_id": organization_id}, {"$set": {"is_active": active}})
        return result.matched_count == 1


class MongoAccounts:
    def __init__(self, collection, organizations):
        self._c, self._organizations = collection, organizations

    def create(
        self, email: str, username: str, organization_id: str, is_superuser: bool, now: float
    ) -> Account:
        _require_organization(self._organizations, organization_id)
        account = Account(
            str(uuid.uuid4()), normalize_email(email), username, organization_id,
            is_superuser, True, now,
        )  # fmt: skip
        try:
            self._c.insert_one({"_id": account.id, **_account_fields(account)})
        except DuplicateKeyError:
            raise DuplicateEmail(account.email) from None
        return account

    def get(self, account_id: str) -> Account | None:
        doc = self._c.find_one({"_id": account_id})
        return _account(doc) if doc else None

    def get_by_email(self, email: str) -> Account | None:
        doc = self._c.find_one({"email": normalize_email(email)})
        return _account(doc) if doc else None

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Account]:
        docs, total = _organization_page(self._c, organization_id, offset, limit)
        return Page([_account(doc) for doc in docs], total)

    def set_active(self, account_id: str, active: bool) -> bool:
        result = self._c.update_one({"_id": account_id}, {"$set": {"is_active": active}})
        return result.matched_count == 1


class MongoApiKeys:
    def __init__(self, collection):
        self._c = collection

    def create(
        self, account_id: str, name: str, key: str, now: float, storefront_id: str | None = None
    ) -> ApiKey:
        prefix = key[:PREFIX_LENGTH]
        record = ApiKey(
            str(uuid.uuid4()), account_id, name, prefix, now, storefront_id=storefront_id
        )
        self._c.insert_one(
            {
                "_id": record.id,
                "account_id": account_id,
                "name": name,
                "prefix": prefix,
                "key_hash": hash_api_key(key),
                "created_at": now,
                "revoked_at": None,
                "last_used_day": None,
                "storefront_id": storefront_id,
            }
        )
        return record

    def find(self, key: str) -> ApiKey | None:
        doc = self._c.find_one({"key_hash": hash_api_key(key)})
        return _key(doc) if doc else None

    def get(self, key_id: str) -> ApiKey | None:
        doc = self._c.find_one({"_id": key_id})
        return _key(doc) if doc else None

    def list_for_storefront(self, storefront_id: str) -> list[ApiKey]:
        return self._many({"storefront_id": storefront_id})

    def _many(self, query: dict[str, Any]) -> list[ApiKey]:
        return [_key(doc) for doc in self._c.find(query).sort(_OLDEST_FIRST)]

    def list(self, account_id: str) -> list[ApiKey]:
        # Keys of the first layout have no storefront_id field: `None` matches those too.
        return self._many({"account_id": account_id, "storefront_id": None})

    def revoke(self, key_id: str, now: float) -> bool:
        result = self._c.update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        return result.modified_count == 1

    def mark_used(self, key_id: str, day: str) -> None:
        self._c.update_one(
            {"_id": key_id, "$or": [{"last_used_day": None}, {"last_used_day": {"$lt": day}}]},
            {"$set": {"last_used_day": day}},
        )


class MongoStorefronts:
    def __init__(self, collection, organizations, api_keys):
        self._c = collection
        self._organizations = organizations
        self._api_keys = api_keys

    def create(self, name: str, organization_id: str, now: float) -> Storefront:
        _require_organization(self._organizations, organization_id)
        storefront = Storefront(str(uuid.uuid4()), name, organization_id, True, now)
        self._c.insert_one(
            {
                "_id": storefront.id,
                "name": name,
                "organization_id": organization_id,
                "is_active": True,
                "created_at": now,
            }
        )
        return storefront

    def get(self, storefront_id: str) -> Storefront | None:
        doc = self._c.find_one({"_id": storefront_id})
        return _storefront(doc) if doc else None

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Storefront]:
        docs, total = _organization_page(self._c, organization_id, offset, limit)
        return Page([_storefront(doc) for doc in docs], total)

    def update(
        self, storefront_id: str, name: str | None = None, is_active: bool | None = None
    ) -> Storefront | None:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if is_active is not None:
            changes["is_active"] = is_active
        if changes:
            self._c.update_one({"_id": storefront_id}, {"$set": changes})
        return self.get(storefront_id)

    def delete(self, storefront_id: str) -> bool:
        # The storefront first: once it is gone, its keys open nothing even before they go.
        deleted = self._c.delete_one({"_id": storefront_id}).deleted_count == 1
        self._api_keys.delete_many({"storefront_id": storefront_id})
        return deleted


class MongoIdentity:
    """The four repositories over one database."""

    def __init__(self, db: Database):
        self._db = db
        self.organizations = MongoOrganizations(db["organizations"])
        self.accounts = MongoAccounts(db["accounts"], db["organizations"])
        self.api_keys = MongoApiKeys(db["api_keys"])
        self.storefronts = MongoStorefronts(db["storefronts"], db["organizations"], db["api_keys"])

    def ensure_indexes(self) -> None:
        self._db["organizations"].create_index(_OLDEST_FIRST)
        self._db["accounts"].create_index("email", unique=True)
        self._db["accounts"].create_index([("organization_id", ASCENDING), *_OLDEST_FIRST])
        self._db["api_keys"].create_index("key_hash", unique=True)
        self._db["api_keys"].create_index([("account_id", ASCENDING), *_OLDEST_FIRST])
        self._db["api_keys"].create_index([("storefront_id", ASCENDING), *_OLDEST_FIRST])
        self._db["storefronts"].create_index([("organization_id", ASCENDING), *_OLDEST_FIRST])
