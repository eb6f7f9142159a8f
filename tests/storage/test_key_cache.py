"""The API's in-memory LRU of derived package keys (`storage.key_cache`)."""

from __future__ import annotations

from storage.crypto import MAX_VIEW_IDS, PackageKey, package_id_for
from storage.key_cache import PackageKeyCache

SECRET = b"s" * 32
UPN = "u" * 600
OTHER = "v" * 600


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_key_opens_what_a_fresh_key_sealed():
    cache = PackageKeyCache()
    package_id = package_id_for(UPN)
    blob = PackageKey(package_id, UPN, SECRET).seal("overview", {"messages": 3})
    first = cache.get(package_id, UPN, SECRET)
    assert cache.get(package_id, UPN, SECRET) is first
    assert first.open("overview", blob) == {"messages": 3}
    assert len(cache) == 1


def test_other_key_material_or_secret_never_finds_the_kept_key():
    cache = PackageKeyCache()
    package_id = package_id_for(UPN)
    kept = cache.get(package_id, UPN, SECRET)
    assert cache.get(package_id, OTHER, SECRET) is not kept
    assert cache.get(package_id, UPN, b"t" * 32) is not kept
    assert cache.get(package_id, OTHER, SECRET)._key != kept._key
    assert len(cache) == 3


def test_the_least_recently_used_key_goes_first():
    cache = PackageKeyCache(max_keys=2)
    a = cache.get("a", UPN, SECRET)
    cache.get("b", UPN, SECRET)
    assert cache.get("a", UPN, SECRET) is a  # a is now the most recent
    cache.get("c", UPN, SECRET)
    assert len(cache) == 2
    assert cache.get("a", UPN, SECRET) is a
    assert cache.get("b", UPN, SECRET) is not None and len(cache) == 2


def test_a_key_is_derived_again_after_its_age():
    clock = Clock()
    cache = PackageKeyCache(max_age=10, clock=clock)
    first = cache.get("a", UPN, SECRET)
    clock.now = 9.9
    assert cache.get("a", UPN, SECRET) is first
    clock.now = 10.0
    again = cache.get("a", UPN, SECRET)
    assert again is not first and again._key == first._key


def test_forget_drops_every_key_of_the_package_only():
    cache = PackageKeyCache()
    cache.get("a", UPN, SECRET)
    cache.get("a", OTHER, SECRET)
    kept = cache.get("b", UPN, SECRET)
    cache.forget("a")
    assert len(cache) == 1
    assert cache.get("b", UPN, SECRET) is kept


def test_remembered_view_ids_equal_computed_ones_and_stay_bounded():
    key = PackageKey("p", UPN, SECRET)
    names = [f"guild:{n}" for n in range(MAX_VIEW_IDS * 3)]
    first = [key.view_id(name) for name in names]
    assert len(key._view_ids) <= MAX_VIEW_IDS
    fresh = PackageKey("p", UPN, SECRET)
    assert first == [fresh.view_id(name) for name in names] == [key.view_id(n) for n in names]
    assert len(set(first)) == len(names)
