"""The shopper vault's contract, on both backends: personal fields sealed, found by a keyed hash
of the e-mail, each store seeing only its own shoppers; and what a copy of the vault shows."""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest

from settings import InvalidSettings, Settings
from storage import open_shopper_vault, pii_database_name
from storage.crypto import DecryptionError
from storage.mongo_shoppers import MongoShopperVault
from storage.shoppers import DuplicateShopper, ShopperCipher, ShopperFields
from storage.sqlite_shoppers import SQLiteShopperVault

SECRET = b"shopper-vault-test-secret"
NOW = 1_764_700_000.0
STORE, OTHER_STORE = str(uuid.uuid4()), str(uuid.uuid4())
ADA = ShopperFields("Ada@Example.org", "ada", "Ada", "Lovelace", "+44 20 7946 0000")


@pytest.fixture(params=["sqlite", "mongo"])
def vault(request, tmp_path):
    cipher = ShopperCipher(SECRET)
    if request.param == "sqlite":
        made = SQLiteShopperVault(tmp_path / "pii.sqlite3", cipher)
    else:
        import mongomock

        made = MongoShopperVault(mongomock.MongoClient()[f"pii_{uuid.uuid4().hex}"], cipher)
    made.ensure_indexes()
    yield made
    made.close()


def test_a_shopper_is_found_by_id_and_by_email_in_any_case(vault):
    made = vault.create(STORE, ADA, NOW)
    assert uuid.UUID(made.id) and made.store_id == STORE and made.created_at == NOW
    assert vault.get(STORE, made.id) == made
    assert vault.find_by_email(STORE, "  ada@EXAMPLE.org ") == made
    assert made.fields == ADA  # the address as given
    assert vault.count(STORE) == 1


def test_each_store_sees_only_its_own_shoppers(vault):
    made = vault.create(STORE, ADA, NOW)
    assert vault.get(OTHER_STORE, made.id) is None
    assert vault.find_by_email(OTHER_STORE, ADA.email) is None
    assert not vault.delete(OTHER_STORE, made.id)
    other = vault.create(OTHER_STORE, ADA, NOW)  # the same address in another store
    assert other.id != made.id and vault.count(STORE) == vault.count(OTHER_STORE) == 1


def test_an_email_is_unique_within_a_store(vault):
    vault.create(STORE, ADA, NOW)
    with pytest.raises(DuplicateShopper):
        vault.create(STORE, ShopperFields("ADA@example.org"), NOW)
    assert vault.count(STORE) == 1


def test_an_update_changes_the_fields_and_the_lookup(vault):
    made = vault.create(STORE, ADA, NOW)
    updated = vault.update(STORE, made.id, {"email": "countess@example.org", "phone": ""})
    assert updated is not None and updated.fields.phone == "" and updated.fields.first_name == "Ada"
    assert vault.get(STORE, made.id) == updated
    assert vault.find_by_email(STORE, ADA.email) is None
    assert vault.find_by_email(STORE, "Countess@example.org") == updated
    assert vault.update(STORE, str(uuid.uuid4()), {"phone": "1"}) is None
    assert vault.update(OTHER_STORE, made.id, {"phone": "1"}) is None


def test_an_update_to_another_shoppers_email_is_refused(vault):
    made = vault.create(STORE, ADA, NOW)
    vault.create(STORE, ShopperFields("grace@example.org"), NOW)
    with pytest.raises(DuplicateShopper):
        vault.update(STORE, made.id, {"email": "Grace@example.org"})
    assert vault.get(STORE, made.id).fields.email == ADA.email


def test_an_unknown_field_is_refused(vault):
    made = vault.create(STORE, ADA, NOW)
    with pytest.raises(ValueError, match="password"):
        vault.update(STORE, made.id, {"password": "x"})


def test_deleting_a_shopper_and_a_store(vault):
    first = vault.create(STORE, ADA, NOW)
    vault.create(STORE, ShopperFields("grace@example.org"), NOW)
    vault.create(OTHER_STORE, ADA, NOW)
    assert vault.delete(STORE, first.id) and not vault.delete(STORE, first.id)
    assert vault.get(STORE, first.id) is None and vault.find_by_email(STORE, ADA.email) is None
    assert vault.delete_store(STORE) == 1
    assert vault.count(STORE) == 0 and vault.count(OTHER_STORE) == 1


# -- what a copy of the vault shows ------------------------------------------------------------


def test_a_copy_of_the_sqlite_vault_holds_no_personal_information(tmp_path):
    vault = SQLiteShopperVault(tmp_path / "pii.sqlite3", ShopperCipher(SECRET))
    vault.ensure_indexes()
    made = vault.create(STORE, ADA, NOW)
    deleted = vault.create(
        STORE, ShopperFields("grace@example.org", "grace", "Grace", "Hopper"), NOW
    )
    vault.delete(STORE, deleted.id)
    vault.close()
    with sqlite3.connect(tmp_path / "pii.sqlite3") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file()).lower()
    for text in ("ada@example.org", "lovelace", "7946", "amazing_grace", "brewster", "example.org"):
        assert text.encode() not in raw, text
    assert made.id.encode() in raw  # the id is what events carry: not personal


def test_another_secret_opens_nothing_and_finds_nothing(tmp_path):
    path = tmp_path / "pii.sqlite3"
    vault = SQLiteShopperVault(path, ShopperCipher(SECRET))
    vault.ensure_indexes()
    made = vault.create(STORE, ADA, NOW)
    vault.close()
    stranger = SQLiteShopperVault(path, ShopperCipher(b"another secret"))
    try:
        assert stranger.find_by_email(STORE, ADA.email) is None
        with pytest.raises(DecryptionError):
            stranger.get(STORE, made.id)
    finally:
        stranger.close()


def test_a_sealed_row_moved_to_another_shopper_does_not_open(tmp_path):
    path = tmp_path / "pii.sqlite3"
    vault = SQLiteShopperVault(path, ShopperCipher(SECRET))
    vault.ensure_indexes()
    ada = vault.create(STORE, ADA, NOW)
    grace = vault.create(STORE, ShopperFields("grace@example.org"), NOW)
    with sqlite3.connect(path) as conn:
        (sealed,) = conn.execute("SELECT sealed FROM shoppers WHERE id = ?", (ada.id,)).fetchone()
        conn.execute("UPDATE shoppers SET sealed = ? WHERE id = ?", (sealed, grace.id))
    with pytest.raises(DecryptionError):
        vault.get(STORE, grace.id)
    vault.close()


# -- where the vault lives -------------------------------------------------------------------------


def test_the_embedded_vault_is_its_own_file(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s" * 32)
    vault = open_shopper_vault(settings)
    try:
        vault.create(STORE, ADA, NOW)
    finally:
        vault.close()
    assert settings.pii_sqlite_path.exists() and settings.pii_sqlite_path != settings.sqlite_path


@pytest.mark.parametrize(
    ("mongo_url", "pii_mongo_url", "expected"),
    [
        ("mongodb://db/prod", "", "prod_pii"),
        ("mongodb://db/", "", "dumpus_pii"),
        ("mongodb://db/prod", "mongodb://pii-host/personal", "personal"),
        ("mongodb://db/prod", "mongodb://pii-host/", "dumpus_pii"),
        ("", "mongodb://pii-host/personal", "personal"),
    ],
)
def test_the_mongodb_vault_is_a_database_apart(mongo_url, pii_mongo_url, expected):
    settings = Settings(mongo_url=mongo_url, pii_mongo_url=pii_mongo_url, secret_key="s" * 32)
    assert pii_database_name(settings) == expected


def test_a_bad_pii_mongo_url_is_refused_at_start_up():
    with pytest.raises(InvalidSettings, match="PII_MONGO_URL"):
        Settings.from_env({**os.environ, "PII_MONGO_URL": "postgres://x"})


def test_known_ids_are_the_stores_own_shoppers_among_those_asked(vault):
    ada = vault.create(STORE, ADA, NOW)
    bob = vault.create(STORE, ShopperFields("bob@example.org"), NOW)
    elsewhere = vault.create(OTHER_STORE, ADA, NOW)
    stranger = str(uuid.uuid4())
    asked = [ada.id, elsewhere.id, stranger, ada.id] + [str(uuid.uuid4()) for _ in range(600)]
    assert vault.known_ids(STORE, [*asked, bob.id]) == {ada.id, bob.id}
    assert vault.known_ids(STORE, []) == set()
