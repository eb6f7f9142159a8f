"""Identity: organizations, accounts and their API keys (the contract every backend provides).

An API key is shown once, when it is made, and stored only as its SHA-256 (`key_hash`): keys carry
256 random bits, so the hash cannot be reversed or guessed, and a copy of the store opens nothing.
Listings show the key's `prefix` (its first characters, not secret) and its name. Times are UTC
epoch seconds; `last_used_day` is a UTC day, written at most once a day per key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

KEY_PREFIX = "dpk_"  # every key starts so (easy to spot in a leaked file, easy to scan for)
PREFIX_LENGTH = len(KEY_PREFIX) + 8


class DuplicateEmail(Exception):
    """An account with this e-mail address already exists."""


class UnknownOrganization(Exception):
    """No organization has this id."""


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    is_active: bool
    created_at: float


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    username: str
    organization_id: str
    is_superuser: bool
    is_active: bool
    created_at: float


@dataclass(frozen=True)
class Storefront:
    """An online store of an organization, posting its shoppers' events (issue 13). Called a
    storefront in the code, a store in its routes: `Store` is the storage backend here."""

    id: str
    name: str
    organization_id: str
    is_active: bool
    created_at: float


@dataclass(frozen=True)
class ApiKey:
    """An account's key; with `storefront_id`, a storefront's key, made by that account."""

    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None
    last_used_day: str | None = None
    storefront_id: str | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many items the whole listing has."""

    items: list[T]
    total: int


def new_api_key() -> str:
    """A fresh key: the prefix, then 43 URL-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What is stored of a key, and what a presented key is looked up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def normalize_email(email: str) -> str:
    """E-mail addresses are unique regardless of case and surrounding spaces."""
    return email.strip().lower()


class OrganizationRepository(Protocol):
    def create(self, name: str, now: float) -> Organization:
        """A new active organization with a fresh UUID."""

    def get(self, organization_id: str) -> Organization | None:
        """The organization, or None."""

    def list(self, offset: int, limit: int) -> Page[Organization]:
        """Organizations oldest first."""

    def set_active(self, organization_id: str, active: bool) -> bool:
        """Activate or deactivate; False when unknown."""


class AccountRepository(Protocol):
    def create(
        self, email: str, username: str, organization_id: str, is_superuser: bool, now: float
    ) -> Account:
        """A new active account; DuplicateEmail or UnknownOrganization when it cannot be."""

    def get(self, account_id: str) -> Account | None:
        """The account, or None."""

    def get_by_email(self, email: str) -> Account | None:
        """The account of this address (any case), or None."""

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Account]:
        """Accounts oldest first, of one organization or all."""

    def set_active(self, account_id: str, active: bool) -> bool:
        """Activate or deactivate; False when unknown."""


class StorefrontRepository(Protocol):
    def create(self, name: str, organization_id: str, now: float) -> Storefront:
        """A new active storefront; UnknownOrganization when the organization does not exist."""

    def get(self, storefront_id: str) -> Storefront | None:
        """The storefront, or None."""

    def list(self, organization_id: str | None, offset: int, limit: int) -> Page[Storefront]:
        """Storefronts oldest first, of one organization or all."""

    def update(
        self, storefront_id: str, name: str | None = None, is_active: bool | None = None
    ) -> Storefront | None:
        """Rename and/or block (`is_active` False) or unblock; None when unknown."""

    def delete(self, storefront_id: str) -> bool:
        """Remove the storefront and its keys; False when unknown."""


class ApiKeyRepository(Protocol):
    def create(
        self, account_id: str, name: str, key: str, now: float, storefront_id: str | None = None
    ) -> ApiKey:
        """Record a key (its hash and prefix only) for an account, or for a storefront (made
        by that account)."""

    def find(self, key: str) -> ApiKey | None:
        """The record of a presented key (revoked ones included), or None."""

    def get(self, key_id: str) -> ApiKey | None:
        """The record of a key id, or None."""

    def list_for_storefront(self, storefront_id: str) -> list[ApiKey]:
        """A storefront's keys, oldest first."""

    def list(self, account_id: str) -> list[ApiKey]:
        """An account's own keys (not the storefront keys it made), oldest first."""

    def revoke(self, key_id: str, now: float) -> bool:
        """Revoke a live key; False when unknown or already revoked."""

    def mark_used(self, key_id: str, day: str) -> None:
        """Record the UTC day a key was last used (one write per key and day at most)."""


class IdentityStore(Protocol):
    @property
    def organizations(self) -> OrganizationRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def storefronts(self) -> StorefrontRepository: ...
