"""What counts as "store unavailable", and the bounded retries of safe MongoDB operations."""

from __future__ import annotations

import sqlite3

import mongomock
import pytest
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
)

from storage.errors import RetryPolicy, is_store_unavailable
from storage.mongo_backend import MongoStore


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("x"),
        NotPrimaryError("x"),
        NetworkTimeout("x"),
        ServerSelectionTimeoutError("x"),
        WaitQueueTimeoutError("x"),
        OperationFailure("x", 91, {"errorLabels": ["RetryableWriteError"]}),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.OperationalError("disk I/O error"),
    ],
    ids=repr,
)
def test_transient_failures_are_store_unavailable(error):
    assert is_store_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("x"),
        OperationFailure("bad query", 2),
        sqlite3.OperationalError("no such table: packages"),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        ValueError("x"),
        OSError("disk full"),
    ],
    ids=repr,
)
def test_other_failures_are_not(error):
    assert not is_store_unavailable(error)


class Flaky:
    """Fails with each of `errors` in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self, value):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return value


def test_a_retry_policy_retries_transient_errors_with_growing_delays():
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, first_delay=0.1, sleep=slept.append)
    flaky = Flaky(AutoReconnect("a"), NotPrimaryError("b"))
    assert policy.call(flaky, "answer") == "answer"
    assert (flaky.calls, slept) == (3, [0.1, 0.2])


def test_a_retry_policy_gives_up_after_its_attempts():
    policy = RetryPolicy(attempts=2, first_delay=0, sleep=lambda _: None)
    flaky = Flaky(AutoReconnect("a"), AutoReconnect("b"), AutoReconnect("c"))
    with pytest.raises(AutoReconnect, match="b"):
        policy.call(flaky, "answer")
    assert flaky.calls == 2


def test_a_retry_policy_never_retries_other_errors():
    policy = RetryPolicy(attempts=5, first_delay=0, sleep=lambda _: None)
    flaky = Flaky(DuplicateKeyError("dup"))
    with pytest.raises(DuplicateKeyError):
        policy.call(flaky, "answer")
    assert flaky.calls == 1


@pytest.fixture
def mongo_store():
    slept: list[float] = []
    store = MongoStore(
        mongomock.MongoClient(), "retries", retry=RetryPolicy(3, 0.01, sleep=slept.append)
    )
    store.ensure_indexes()
    store.slept = slept
    return store


def fail_first_calls(monkeypatch, collection, method: str, errors: list[Exception]) -> list[str]:
    real = getattr(collection, method)
    calls: list[str] = []

    def flaky(*args, **kwargs):
        calls.append(method)
        if errors:
            raise errors.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(collection, method, flaky)
    return calls


def test_mongo_reads_ride_out_an_election(mongo_store, monkeypatch):
    mongo_store.packages.enqueue("p1", b"link", 1.0)
    collection = mongo_store.packages._col
    calls = fail_first_calls(monkeypatch, collection, "find_one", [NotPrimaryError("election")])
    assert mongo_store.packages.get("p1").package_id == "p1"
    assert (calls, mongo_store.slept) == (["find_one", "find_one"], [0.01])


def test_mongo_statistics_batches_are_retried_whole(mongo_store, monkeypatch):
    collection = mongo_store.statistics._col
    calls = fail_first_calls(monkeypatch, collection, "bulk_write", [AutoReconnect("reset")])
    assert mongo_store.statistics.put_many("p1", 1, [("v1", b"a"), ("v2", b"b")]) == 2
    assert len(calls) == 2
    assert mongo_store.statistics.get("p1", 1, "v2") == b"b"


def test_mongo_claims_are_not_retried_by_the_store(mongo_store, monkeypatch):
    """A claim increments attempts: repeating one whose answer was lost could count it twice
    (the driver's own retryable write, with its server-side deduplication, is the only retry)."""
    mongo_store.packages.enqueue("p1", b"link", 1.0)
    collection = mongo_store.packages._col
    errors: list[Exception] = [AutoReconnect("reset")]
    calls = fail_first_calls(monkeypatch, collection, "find_one_and_update", errors)
    with pytest.raises(AutoReconnect):
        mongo_store.packages.claim("p1", "t1", 2.0, 0.0)
    assert calls == ["find_one_and_update"]


def test_mongo_gives_up_after_the_attempts(mongo_store, monkeypatch):
    collection = mongo_store.packages._col
    errors: list[Exception] = [AutoReconnect(str(i)) for i in range(5)]
    calls = fail_first_calls(monkeypatch, collection, "find_one", errors)
    with pytest.raises(AutoReconnect):
        mongo_store.packages.get("p1")
    assert len(calls) == 3
