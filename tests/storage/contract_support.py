"""Shared constants and set-up steps of the storage contract suites."""

from storage.base import PackageRecord

NOW = 1_700_000_000.0
STALE = 120.0
LINK = b"sealed-link"


def claimed(store, package_id="p1", token="t1", now=NOW) -> PackageRecord:
    """Enqueue and claim a package; returns the claimed record."""
    store.packages.enqueue(package_id, LINK, now)
    record = store.packages.claim(package_id, token, now, now - STALE)
    assert record is not None
    return record
