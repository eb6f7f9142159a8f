"""The storage contract, part two: giving a claim back, resending lost broker messages, failing
stale packages and purging orphan statistics. Every backend (the `store` fixture) must pass it.
"""

from __future__ import annotations

import pytest

from storage.base import EnqueueOutcome, PackageRecord, Status
from storage.mongo_backend import MongoStore
from tests.storage.contract_support import LINK, NOW, STALE
from tests.storage.contract_support import claimed as _claimed


def _finish(store, package_id: str, final: str) -> None:
    """Claim the package with t1 and end it: processed, errored or deleted."""
    _claimed(store, package_id)
    if final == "processed":
        assert store.packages.publish(package_id, "t1", 1, NOW + 1)
    elif final == "errored":
        assert store.packages.fail(package_id, "t1", "BOOM", NOW + 1)
    else:
        assert store.packages.delete(package_id)


def _forget_sent(store, package_id: str) -> None:
    """Make `sent_at` absent, as in a document written before the field existed."""
    if isinstance(store, MongoStore):
        store._db["packages"].update_one({"_id": package_id}, {"$unset": {"sent_at": ""}})
    else:
        store._connections.get().execute(
            "UPDATE packages SET sent_at = NULL WHERE package_id = ?", (package_id,)
        )
    assert store.packages.get(package_id).sent_at is None


# --- sent_at set by enqueue and requeue_stale ------------------------------------------------


def test_enqueue_sets_sent_at_only_when_it_creates_or_requeues(store):
    assert store.packages.enqueue("p1", LINK, NOW) is EnqueueOutcome.CREATED
    assert store.packages.get("p1").sent_at == NOW
    assert store.packages.enqueue("p1", LINK, NOW + 5) is EnqueueOutcome.EXISTING
    assert store.packages.get("p1").sent_at == NOW
    store.packages.claim("p1", "t1", NOW + 6, NOW)
    assert store.packages.enqueue("p1", LINK, NOW + 7) is EnqueueOutcome.EXISTING
    assert store.packages.get("p1").sent_at == NOW
    store.packages.fail("p1", "t1", "BOOM", NOW + 8)
    assert store.packages.get("p1").sent_at == NOW
    assert store.packages.enqueue("p1", LINK, NOW + 20) is EnqueueOutcome.REQUEUED
    assert store.packages.get("p1").sent_at == NOW + 20


def test_requeue_stale_sets_sent_at(store):
    _claimed(store, "stale")
    _claimed(store, "fresh", now=NOW + 200)
    cutoff = NOW + 100
    assert store.packages.requeue_stale("stale", cutoff, cutoff + 1)
    assert store.packages.get("stale").sent_at == cutoff + 1
    assert not store.packages.requeue_stale("fresh", cutoff, cutoff + 1)
    assert store.packages.get("fresh").sent_at == NOW + 200


# --- release ---------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [Status.DOWNLOADING, Status.ANALYZING])
def test_release_by_the_claimer(store, step):
    _claimed(store)
    assert store.packages.set_step("p1", "t1", step, 40, 10, 20, NOW + 1)
    assert store.packages.release("p1", "t1", NOW + 5)
    record = store.packages.get("p1")
    assert (record.status, record.claim_token, record.heartbeat_at) == (Status.QUEUED, None, None)
    assert (record.progress, record.bytes_done, record.bytes_total) == (0, None, None)
    assert (record.sent_at, record.queued_at, record.attempts) == (NOW + 5, NOW, 1)
    assert (record.sealed_link, record.error_code) == (LINK, None)
    assert not store.packages.release("p1", "t1", NOW + 6)  # the claim is gone
    assert not store.packages.set_step("p1", "t1", Status.ANALYZING, 50, None, None, NOW + 6)
    assert not store.packages.publish("p1", "t1", 1, NOW + 6)
    assert store.packages.queue_position("p1") == (0, 1)
    again = store.packages.claim("p1", "t2", NOW + 7, NOW + 7 - STALE)
    assert (again.claim_token, again.attempts) == ("t2", 2)


def test_release_refused_for_another_token(store):
    _claimed(store)
    before = store.packages.get("p1")
    assert not store.packages.release("p1", "t2", NOW + 5)
    assert store.packages.get("p1") == before


@pytest.mark.parametrize("final", ["processed", "errored", "deleted"])
def test_release_refused_when_finished_or_deleted(store, final):
    _finish(store, "p1", final)
    before = store.packages.get("p1")
    assert not store.packages.release("p1", "t1", NOW + 5)
    assert store.packages.get("p1") == before


def test_release_refused_for_a_queued_or_unknown_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert not store.packages.release("p1", "t1", NOW + 5)
    assert store.packages.get("p1").sent_at == NOW
    assert not store.packages.release("nope", "t1", NOW + 5)


# --- release with the attempt refunded (a worker stopping, a store outage) -----------------


@pytest.mark.parametrize("step", [Status.DOWNLOADING, Status.ANALYZING])
def test_a_refunding_release_by_the_claimer_gives_the_attempt_back(store, step):
    _claimed(store)
    assert store.packages.set_step("p1", "t1", step, 40, 10, 20, NOW + 1)
    assert store.packages.release("p1", "t1", NOW + 5, refund_attempt=True)
    record = store.packages.get("p1")
    assert (record.status, record.claim_token, record.heartbeat_at) == (Status.QUEUED, None, None)
    assert (record.progress, record.bytes_done, record.bytes_total) == (0, None, None)
    assert (record.sent_at, record.queued_at, record.attempts) == (NOW + 5, NOW, 0)
    assert (record.sealed_link, record.error_code) == (LINK, None)
    assert not store.packages.release("p1", "t1", NOW + 6, refund_attempt=True)  # the claim is gone
    assert not store.packages.set_step("p1", "t1", Status.ANALYZING, 50, None, None, NOW + 6)
    assert store.packages.get("p1").attempts == 0
    again = store.packages.claim("p1", "t2", NOW + 7, NOW + 7 - STALE)
    assert (again.claim_token, again.attempts) == ("t2", 1)


def test_a_refunding_release_keeps_the_attempts_of_earlier_claims(store):
    _claimed(store)
    assert store.packages.release("p1", "t1", NOW + 1)  # a failed attempt: counted
    assert store.packages.claim("p1", "t2", NOW + 2, NOW + 2 - STALE).attempts == 2
    assert store.packages.release("p1", "t2", NOW + 3, refund_attempt=True)
    assert store.packages.get("p1").attempts == 1


def test_a_refunding_release_refused_for_another_token(store):
    _claimed(store)
    before = store.packages.get("p1")
    assert not store.packages.release("p1", "t2", NOW + 5, refund_attempt=True)
    assert store.packages.get("p1") == before


@pytest.mark.parametrize("final", ["processed", "errored", "deleted"])
def test_a_refunding_release_refused_when_finished_or_deleted(store, final):
    _finish(store, "p1", final)
    before = store.packages.get("p1")
    assert not store.packages.release("p1", "t1", NOW + 5, refund_attempt=True)
    assert store.packages.get("p1") == before


def test_a_refunding_release_refused_for_a_queued_or_unknown_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert not store.packages.release("p1", "t1", NOW + 5, refund_attempt=True)
    assert (store.packages.get("p1").sent_at, store.packages.get("p1").attempts) == (NOW, 0)
    assert not store.packages.release("nope", "t1", NOW + 5, refund_attempt=True)


# --- find_unsent and mark_sent ---------------------------------------------------------------


def test_find_unsent_order_limit_and_filter(store):
    for package_id, at in (("a", NOW + 3), ("b", NOW + 1), ("c2", NOW + 2), ("c", NOW + 2)):
        store.packages.enqueue(package_id, LINK, at)
    store.packages.enqueue("never", LINK, NOW + 4)
    _forget_sent(store, "never")
    store.packages.enqueue("recent", LINK, NOW + 50)
    store.packages.enqueue("edge", LINK, NOW + 10)  # sent exactly at the cutoff: not older
    _claimed(store, "claimed", now=NOW)
    _finish(store, "done", "processed")
    _finish(store, "failed", "errored")
    cutoff = NOW + 10
    unsent = store.packages.find_unsent(cutoff)
    assert [r.package_id for r in unsent] == ["never", "b", "c", "c2", "a"]
    assert all(isinstance(r, PackageRecord) and r.status is Status.QUEUED for r in unsent)
    assert [r.package_id for r in store.packages.find_unsent(cutoff, limit=2)] == ["never", "b"]
    assert [r.package_id for r in store.packages.find_unsent(NOW)] == ["never"]


def test_find_unsent_of_an_empty_store(store):
    assert store.packages.find_unsent(NOW) == []


def test_mark_sent_once_per_window(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert store.packages.mark_sent("p1", NOW + 10, NOW + 20)
    assert store.packages.get("p1").sent_at == NOW + 20
    assert not store.packages.mark_sent("p1", NOW + 10, NOW + 21)  # a racing reaper
    assert store.packages.get("p1").sent_at == NOW + 20
    assert store.packages.find_unsent(NOW + 10) == []
    assert store.packages.mark_sent("p1", NOW + 30, NOW + 40)  # the next window
    assert store.packages.get("p1").sent_at == NOW + 40


def test_mark_sent_a_never_sent_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    _forget_sent(store, "p1")
    assert store.packages.mark_sent("p1", NOW, NOW + 1)
    assert store.packages.get("p1").sent_at == NOW + 1
    assert not store.packages.mark_sent("p1", NOW, NOW + 2)


def test_mark_sent_refused_when_recently_sent(store):
    store.packages.enqueue("p1", LINK, NOW + 10)
    assert not store.packages.mark_sent("p1", NOW + 10, NOW + 11)
    assert store.packages.get("p1").sent_at == NOW + 10


@pytest.mark.parametrize("state", ["claimed", "processed", "errored", "deleted"])
def test_mark_sent_refused_unless_queued(store, state):
    if state == "claimed":
        _claimed(store)
    else:
        _finish(store, "p1", state)
    before = store.packages.get("p1")
    assert not store.packages.mark_sent("p1", NOW + 100, NOW + 101)
    assert store.packages.get("p1") == before


# --- fail_stale ------------------------------------------------------------------------------


def _assert_failed(store, code: str, at: float) -> None:
    record = store.packages.get("p1")
    assert (record.status, record.error_code, record.finished_at) == (Status.ERRORED, code, at)
    assert (record.sealed_link, record.claim_token) == (None, None)


def test_fail_stale_a_queued_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert store.packages.fail_stale("p1", NOW - 1000, "NEVER_STARTED", NOW + 1)
    _assert_failed(store, "NEVER_STARTED", NOW + 1)
    assert not store.packages.fail_stale("p1", NOW + 1000, "AGAIN", NOW + 2)  # already ERRORED
    _assert_failed(store, "NEVER_STARTED", NOW + 1)


@pytest.mark.parametrize("step", [Status.DOWNLOADING, Status.ANALYZING])
def test_fail_stale_an_active_package_whose_worker_died(store, step):
    _claimed(store)
    store.packages.set_step("p1", "t1", step, 30, 5, 10, NOW + 1)
    later = NOW + 1 + STALE + 1
    assert store.packages.fail_stale("p1", later - STALE, "WORKER_LOST", later)
    _assert_failed(store, "WORKER_LOST", later)
    assert not store.packages.publish("p1", "t1", 1, later)  # the claim is released
    assert not store.packages.set_step("p1", "t1", step, 40, None, None, later)


def test_fail_stale_refused_while_the_heartbeat_is_fresh(store):
    _claimed(store)
    store.packages.set_step("p1", "t1", Status.ANALYZING, 30, None, None, NOW + 50)
    before = store.packages.get("p1")
    assert not store.packages.fail_stale("p1", NOW + 50, "WORKER_LOST", NOW + 60)  # not older
    assert not store.packages.fail_stale("p1", NOW, "WORKER_LOST", NOW + 60)
    assert store.packages.get("p1") == before


@pytest.mark.parametrize("final", ["processed", "errored", "deleted"])
def test_fail_stale_refused_when_finished_or_deleted(store, final):
    _finish(store, "p1", final)
    before = store.packages.get("p1")
    far = NOW + 100 * STALE
    assert not store.packages.fail_stale("p1", far, "WORKER_LOST", far)
    assert store.packages.get("p1") == before
