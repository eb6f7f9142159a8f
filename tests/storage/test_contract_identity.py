"""Identity contract, on both backends: organizations, accounts, API keys."""

from __future__ import annotations

import uuid

import pytest

from storage.identity import (
    KEY_PREFIX,
    PREFIX_LENGTH,
    DuplicateEmail,
    UnknownOrganization,
    hash_api_key,
    new_api_key,
)
from tests.storage.contract_support import NOW


def _organization(store, name="Acme", now=NOW):
    return store.identity.organizations.create(name, now)


def _account(store, email="ada@example.com", superuser=False, organization=None, now=NOW):
    organization = organization or _organization(store)
    return store.identity.accounts.create(email, "ada", organization.id, superuser, now)


def test_an_organization_is_made_active_with_a_uuid(store):
    made = _organization(store)
    assert uuid.UUID(made.id) and made.is_active and made.name == "Acme"
    assert store.identity.organizations.get(made.id) == made
    assert store.identity.organizations.get(str(uuid.uuid4())) is None


def test_organizations_are_listed_oldest_first_a_page_at_a_time(store):
    made = [_organization(store, f"org{i}", NOW + i) for i in range(5)]
    page = store.identity.organizations.list(offset=1, limit=2)
    assert [o.id for o in page.items] == [made[1].id, made[2].id] and page.total == 5
    assert store.identity.organizations.list(offset=5, limit=2).items == []


def test_an_organization_can_be_deactivated_and_back(store):
    made = _organization(store)
    assert store.identity.organizations.set_active(made.id, False)
    assert not store.identity.organizations.get(made.id).is_active
    assert store.identity.organizations.set_active(made.id, True)
    assert store.identity.organizations.get(made.id).is_active
    assert not store.identity.organizations.set_active(str(uuid.uuid4()), False)


def test_an_account_belongs_to_an_existing_organization(store):
    with pytest.raises(UnknownOrganization):
        store.identity.accounts.create("a@example.com", "a", str(uuid.uuid4()), False, NOW)
    account = _account(store, superuser=True)
    assert account.is_active and account.is_superuser and uuid.UUID(account.id)
    assert store.identity.accounts.get(account.id) == account


def test_emails_are_unique_whatever_their_case(store):
    organization = _organization(store)
    account = _account(store, " Ada@Example.COM ", organization=organization)
    assert account.email == "ada@example.com"
    assert store.identity.accounts.get_by_email("ADA@example.com") == account
    with pytest.raises(DuplicateEmail):
        _account(store, "ada@EXAMPLE.com", organization=organization)


def test_accounts_are_listed_per_organization_or_all(store):
    first, second = _organization(store, "one"), _organization(store, "two")
    a = _account(store, "a@x.io", organization=first, now=NOW)
    b = _account(store, "b@x.io", organization=second, now=NOW + 1)
    c = _account(store, "c@x.io", organization=first, now=NOW + 2)
    page = store.identity.accounts.list(first.id, offset=0, limit=10)
    assert [x.id for x in page.items] == [a.id, c.id] and page.total == 2
    everyone = store.identity.accounts.list(None, offset=1, limit=1)
    assert [x.id for x in everyone.items] == [b.id] and everyone.total == 3


def test_an_account_can_be_deactivated(store):
    account = _account(store)
    assert store.identity.accounts.set_active(account.id, False)
    assert not store.identity.accounts.get(account.id).is_active
    assert not store.identity.accounts.set_active(str(uuid.uuid4()), False)


def test_a_key_is_stored_as_its_hash_and_found_by_the_key_itself(store):
    account = _account(store)
    key = new_api_key()
    record = store.identity.api_keys.create(account.id, "ci", key, NOW)
    assert key.startswith(KEY_PREFIX) and record.prefix == key[:PREFIX_LENGTH]
    assert store.identity.api_keys.find(key) == record
    assert store.identity.api_keys.get(record.id) == record
    assert store.identity.api_keys.find(new_api_key()) is None
    assert store.identity.api_keys.find(hash_api_key(key)) is None  # the hash is no key


def test_keys_are_listed_per_account_and_revoked_once(store):
    account = _account(store)
    first = store.identity.api_keys.create(account.id, "one", new_api_key(), NOW)
    second = store.identity.api_keys.create(account.id, "two", new_api_key(), NOW + 1)
    assert [k.name for k in store.identity.api_keys.list(account.id)] == ["one", "two"]
    assert store.identity.api_keys.revoke(first.id, NOW + 5)
    assert not store.identity.api_keys.revoke(first.id, NOW + 6)
    revoked = store.identity.api_keys.get(first.id)
    assert revoked.is_revoked and revoked.revoked_at == NOW + 5
    assert not store.identity.api_keys.get(second.id).is_revoked


def test_the_last_used_day_only_moves_forward(store):
    account = _account(store)
    record = store.identity.api_keys.create(account.id, "one", new_api_key(), NOW)
    assert record.last_used_day is None
    store.identity.api_keys.mark_used(record.id, "2026-12-02")
    store.identity.api_keys.mark_used(record.id, "2026-12-01")
    assert store.identity.api_keys.get(record.id).last_used_day == "2026-12-02"
    store.identity.api_keys.mark_used(record.id, "2027-01-01")
    assert store.identity.api_keys.get(record.id).last_used_day == "2027-01-01"


def test_no_key_is_stored_in_clear(store, tmp_path):
    account = _account(store)
    key = new_api_key()
    store.identity.api_keys.create(account.id, "one", key, NOW)
    secret_part = key[PREFIX_LENGTH:]
    assert all(secret_part not in repr(k) for k in store.identity.api_keys.list(account.id))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret_part.encode() not in path.read_bytes()


# -- storefronts (issue 13: an online store of an organization, with its own keys) --------------


def test_a_storefront_belongs_to_an_existing_organization(store):
    organization = _organization(store)
    made = store.identity.storefronts.create("Shop", organization.id, NOW)
    assert uuid.UUID(made.id) and made.is_active and made.organization_id == organization.id
    assert store.identity.storefronts.get(made.id) == made
    assert store.identity.storefronts.get(str(uuid.uuid4())) is None
    with pytest.raises(UnknownOrganization):
        store.identity.storefronts.create("Shop", str(uuid.uuid4()), NOW)


def test_storefronts_are_listed_per_organization_or_all(store):
    first, second = _organization(store, "A"), _organization(store, "B")
    made = [
        store.identity.storefronts.create(f"s{i}", (first if i % 2 else second).id, NOW + i)
        for i in range(5)
    ]
    everything = store.identity.storefronts.list(None, offset=0, limit=10)
    assert [s.id for s in everything.items] == [s.id for s in made] and everything.total == 5
    page = store.identity.storefronts.list(first.id, offset=1, limit=1)
    assert [s.id for s in page.items] == [made[3].id] and page.total == 2


def test_a_storefront_is_renamed_blocked_and_unblocked(store):
    made = store.identity.storefronts.create("Shop", _organization(store).id, NOW)
    renamed = store.identity.storefronts.update(made.id, name="Boutique")
    assert renamed is not None and renamed.name == "Boutique" and renamed.is_active
    blocked = store.identity.storefronts.update(made.id, is_active=False)
    assert blocked is not None and blocked.name == "Boutique" and not blocked.is_active
    assert store.identity.storefronts.update(made.id, is_active=True).is_active
    assert store.identity.storefronts.update(str(uuid.uuid4()), name="x") is None


def test_a_storefronts_keys_are_apart_from_its_makers_and_go_with_it(store):
    account = _account(store)
    storefront = store.identity.storefronts.create("Shop", account.organization_id, NOW)
    own_key, shop_key = new_api_key(), new_api_key()
    own = store.identity.api_keys.create(account.id, "mine", own_key, NOW)
    shop = store.identity.api_keys.create(
        account.id, "checkout", shop_key, NOW + 1, storefront_id=storefront.id
    )
    assert shop.storefront_id == storefront.id and own.storefront_id is None
    assert store.identity.api_keys.find(shop_key) == shop
    assert store.identity.api_keys.list(account.id) == [own]
    assert store.identity.api_keys.list_for_storefront(storefront.id) == [shop]
    assert store.identity.storefronts.delete(storefront.id)
    assert not store.identity.storefronts.delete(storefront.id)
    assert store.identity.storefronts.get(storefront.id) is None
    assert store.identity.api_keys.find(shop_key) is None
    assert store.identity.api_keys.find(own_key) == own
