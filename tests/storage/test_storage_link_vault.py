"""The link vault: links sealed under per-package key files, destroyed when the package ends."""

from __future__ import annotations

import os
import stat
import time

import pytest

from storage.crypto import DecryptionError
from storage.link_vault import LinkVault

SECRET = b"vault-test-secret"
PACKAGE = "a" * 32
OTHER = "b" * 32
LINK = "https://click.discord.com/ls/click?upn=" + "U" * 600


@pytest.fixture
def vault(tmp_path):
    return LinkVault(tmp_path / "keys", SECRET)


def key_files(vault: LinkVault) -> list[str]:
    return sorted(p.name for p in vault.key_dir.iterdir())


def test_a_sealed_link_opens_while_its_key_exists(vault):
    sealed = vault.seal(PACKAGE, LINK)
    assert LINK.encode() not in sealed
    assert vault.open(PACKAGE, sealed) == LINK
    assert [name.split(".")[0] for name in key_files(vault)] == [PACKAGE]


def test_key_files_are_private(vault):
    vault.seal(PACKAGE, LINK)
    assert stat.S_IMODE(vault.key_dir.stat().st_mode) == 0o700
    (path,) = vault.key_dir.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == 32


def test_a_link_does_not_open_for_another_package_or_another_secret(vault, tmp_path):
    sealed = vault.seal(PACKAGE, LINK)
    with pytest.raises(DecryptionError):
        vault.open(OTHER, sealed)
    with pytest.raises(DecryptionError):
        LinkVault(vault.key_dir, b"another secret").open(PACKAGE, sealed)


def test_shredding_makes_the_link_unrecoverable_even_with_the_secret(vault):
    sealed = vault.seal(PACKAGE, LINK)
    (path,) = vault.key_dir.iterdir()
    assert vault.shred(PACKAGE) == 1
    assert not path.exists() and key_files(vault) == []
    with pytest.raises(DecryptionError):
        vault.open(PACKAGE, sealed)


def test_shred_takes_every_key_of_the_package_and_no_other(vault):
    vault.seal(PACKAGE, LINK)
    vault.seal(PACKAGE, LINK)
    kept = vault.seal(OTHER, LINK)
    assert vault.shred(PACKAGE) == 2
    assert vault.open(OTHER, kept) == LINK


def test_discard_destroys_only_the_key_of_that_blob(vault):
    stored = vault.seal(PACKAGE, LINK)
    unused = vault.seal(PACKAGE, LINK)
    vault.discard(PACKAGE, unused)
    assert vault.open(PACKAGE, stored) == LINK
    with pytest.raises(DecryptionError):
        vault.open(PACKAGE, unused)


@pytest.mark.parametrize("package_id", ["../" + "a" * 29, "A" * 32, "a" * 31, "*" * 32])
def test_only_package_ids_name_key_files(vault, package_id):
    with pytest.raises(ValueError):
        vault.seal(package_id, LINK)
    assert vault.shred(package_id) == 0


@pytest.mark.parametrize("blob", [b"", b"\x02", b"\x01" + bytes(60), b"\x02" + bytes(60)])
def test_a_malformed_or_unknown_blob_is_a_decryption_error(vault, blob):
    with pytest.raises(DecryptionError):
        vault.open(PACKAGE, blob)


def test_sweep_destroys_old_keys_of_packages_that_are_not_live(vault):
    live, ended = vault.seal(PACKAGE, LINK), vault.seal(OTHER, LINK)
    past = time.time() - 600
    for path in vault.key_dir.iterdir():
        os.utime(path, (past, past))
    assert vault.sweep(lambda package_id: package_id == PACKAGE, older_than=past + 1) == 1
    assert vault.open(PACKAGE, live) == LINK
    with pytest.raises(DecryptionError):
        vault.open(OTHER, ended)


def test_sweep_leaves_a_young_key_alone(vault):
    sealed = vault.seal(PACKAGE, LINK)  # a POST in progress: the key comes before the document
    assert vault.sweep(lambda package_id: False, older_than=time.time() - 60) == 0
    assert vault.open(PACKAGE, sealed) == LINK
