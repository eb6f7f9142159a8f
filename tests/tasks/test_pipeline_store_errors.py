"""A store outage during a package run: the package waits for a later attempt, never fails.

The run reads a local zip (`local_zip`, as `launchers.local` does), so only the store misbehaves:
a repository method is made to raise what pymongo or sqlite3 raise when the store is down.
"""

from __future__ import annotations

import secrets
import sqlite3
import time

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from samples import SampleSpec, generate_package
from storage import Status
from storage.links import parse_package_link
from tasks import maintenance
from tasks.pipeline import RetryableError, run_package

ORIGIN = "http://127.0.0.1:9"
OUTAGES = [
    AutoReconnect("primary stepped down"),
    sqlite3.OperationalError("database is locked"),
]


@pytest.fixture(scope="module")
def package_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    generate_package(path, SampleSpec(layout="D", messages=200, events=300, seed=3))
    return path


@pytest.fixture
def settings(settings):
    return settings.with_overrides(whitelisted_origins=(ORIGIN,))


def submit(store, settings) -> str:
    link = f"{ORIGIN}/p.zip?k={secrets.token_urlsafe(16)}"
    parsed = parse_package_link(link, (ORIGIN,), settings.server_secret())
    store.packages.enqueue(parsed.package_id, store.links.seal(parsed.package_id, link), 1.0)
    return parsed.package_id


def break_once(monkeypatch, repository, name, error):
    """`repository.name` raises `error` on its first call, then works again."""
    real = getattr(repository, name)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, name, flaky)
    return calls


@pytest.mark.parametrize("error", OUTAGES, ids=type)
def test_a_store_error_mid_run_gives_the_package_back_for_a_retry(
    store, settings, package_zip, monkeypatch, error
):
    package_id = submit(store, settings)
    break_once(monkeypatch, store.statistics, "put_many", error)
    with pytest.raises(RetryableError, match="STORE_UNAVAILABLE"):
        run_package(package_id, settings, store, local_zip=package_zip)
    record = store.packages.get(package_id)
    assert (record.status, record.error_code, record.attempts) == (Status.QUEUED, None, 0)
    assert record.sealed_link is not None  # still processable
    outcome = run_package(package_id, settings, store, local_zip=package_zip)
    assert outcome.result == "PROCESSED"


def test_without_retries_left_the_package_waits_for_the_reaper(
    store, settings, package_zip, monkeypatch
):
    package_id = submit(store, settings)
    break_once(monkeypatch, store.statistics, "put_many", AutoReconnect("election"))
    outcome = run_package(package_id, settings, store, local_zip=package_zip, may_retry=False)
    assert outcome.result == "SKIPPED:STORE_UNAVAILABLE"
    assert store.packages.get(package_id).status == Status.QUEUED
    assert store.packages.find_unsent(float("inf"))[0].package_id == package_id


def test_a_store_still_down_for_the_release_leaves_the_claim_to_the_reaper(
    store, settings, package_zip, monkeypatch, sent
):
    package_id = submit(store, settings)
    break_once(monkeypatch, store.statistics, "put_many", AutoReconnect("down"))
    break_once(monkeypatch, store.packages, "release", ServerSelectionTimeoutError("still down"))
    outcome = run_package(package_id, settings, store, local_zip=package_zip)
    assert outcome.result == "SKIPPED:STORE_UNAVAILABLE"
    record = store.packages.get(package_id)
    assert record.status in (Status.DOWNLOADING, Status.ANALYZING)
    stale = time.time() - settings.stale_after_seconds - 1
    store.packages.set_step(package_id, record.claim_token, record.status, 0, None, None, stale)
    assert maintenance.reap_stale_packages() == 1
    assert store.packages.get(package_id).status == Status.QUEUED
    assert [kw["args"] for _, kw in sent] == [[package_id]]


def test_a_store_error_before_the_claim_retries_without_touching_the_package(
    store, settings, package_zip, monkeypatch
):
    package_id = submit(store, settings)
    before = store.packages.get(package_id)
    break_once(monkeypatch, store.packages, "get", AutoReconnect("not primary"))
    with pytest.raises(RetryableError):
        run_package(package_id, settings, store, local_zip=package_zip)
    assert store.packages.get(package_id) == before


def test_any_other_error_still_fails_the_package(store, settings, package_zip, monkeypatch):
    package_id = submit(store, settings)
    break_once(monkeypatch, store.statistics, "put_many", sqlite3.OperationalError("no such table"))
    outcome = run_package(package_id, settings, store, local_zip=package_zip)
    assert outcome.result == "ERRORED:UNKNOWN_ERROR"
