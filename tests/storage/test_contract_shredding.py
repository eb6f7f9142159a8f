"""Every way a package ends shreds its link key, on every backend (the `store` fixture)."""

from __future__ import annotations

import pytest

from storage.base import Status
from storage.crypto import DecryptionError
from tests.storage.contract_support import NOW, STALE

PACKAGE = "c" * 32
LINK = "https://click.discord.com/ls/click?upn=" + "S" * 600


def _queued(store) -> bytes:
    sealed = store.links.seal(PACKAGE, LINK)
    store.packages.enqueue(PACKAGE, sealed, NOW)
    return sealed


def _running(store) -> bytes:
    sealed = _queued(store)
    assert store.packages.claim(PACKAGE, "t1", NOW, NOW - STALE)
    return sealed


ENDINGS = {
    "published": lambda s: s.packages.publish(PACKAGE, "t1", 1, NOW + 1),
    "failed by its worker": lambda s: s.packages.fail(PACKAGE, "t1", "INVALID_PACKAGE", NOW + 1),
    "failed by the api": lambda s: s.packages.fail(PACKAGE, None, "BROKER_UNAVAILABLE", NOW + 1),
    "failed by the reaper": lambda s: s.packages.fail_stale(PACKAGE, NOW + 1, "WORKER_LOST", NOW),
    "deleted": lambda s: s.packages.delete(PACKAGE),
}


@pytest.mark.parametrize("ending", ENDINGS, ids=list(ENDINGS))
def test_the_link_is_unrecoverable_once_the_package_ends(store, ending):
    sealed = _running(store)
    assert store.links.open(PACKAGE, sealed) == LINK  # live: the worker can read it
    assert ENDINGS[ending](store)
    with pytest.raises(DecryptionError):
        store.links.open(PACKAGE, sealed)
    assert list(store.links.key_dir.glob(f"{PACKAGE}.*")) == []


def test_a_change_that_does_not_end_the_package_keeps_its_key(store):
    sealed = _running(store)
    assert not store.packages.publish(PACKAGE, "another token", 1, NOW + 1)
    assert not store.packages.fail(PACKAGE, "another token", "X", NOW + 1)
    assert not store.packages.fail_stale(PACKAGE, NOW - 2 * STALE, "WORKER_LOST", NOW)
    assert store.packages.release(PACKAGE, "t1", NOW + 1)
    assert store.packages.get(PACKAGE).status == Status.QUEUED
    assert store.links.open(PACKAGE, sealed) == LINK


def test_a_requeued_errored_package_gets_a_fresh_key(store):
    first = _queued(store)
    assert store.packages.fail(PACKAGE, None, "BROKER_UNAVAILABLE", NOW + 1)
    second = store.links.seal(PACKAGE, LINK)
    store.packages.enqueue(PACKAGE, second, NOW + 2)
    assert store.packages.get(PACKAGE).sealed_link == second
    assert store.links.open(PACKAGE, second) == LINK
    with pytest.raises(DecryptionError):
        store.links.open(PACKAGE, first)
