"""The storage contract: every backend (the `store` fixture) must pass every test here."""

from __future__ import annotations

import pytest

from storage import mongo_statistics, sqlite_statistics
from storage.base import EnqueueOutcome, PackageRecord, Status
from tests.storage.contract_support import LINK, NOW, STALE
from tests.storage.contract_support import claimed as _claimed


def _processed(store, package_id="p1", generation=1) -> None:
    _claimed(store, package_id)
    assert store.packages.publish(package_id, "t1", generation, NOW + 5)


# --- enqueue ---------------------------------------------------------------------------------


def test_enqueue_creates_a_queued_package(store):
    assert store.packages.enqueue("p1", LINK, NOW) is EnqueueOutcome.CREATED
    record = store.packages.get("p1")
    assert record == PackageRecord(
        package_id="p1", status=Status.QUEUED, sealed_link=LINK, queued_at=NOW, sent_at=NOW
    )
    assert isinstance(record.status, Status)


def test_get_unknown_package_is_none(store):
    assert store.packages.get("nope") is None


@pytest.mark.parametrize("state", ["queued", "downloading", "analyzing", "processed"])
def test_enqueue_existing_changes_nothing(store, state):
    store.packages.enqueue("p1", LINK, NOW)
    if state != "queued":
        _claimed(store)
    if state == "analyzing":
        assert store.packages.set_step("p1", "t1", Status.ANALYZING, 50, None, None, NOW + 1)
    if state == "processed":
        assert store.packages.publish("p1", "t1", 1, NOW + 2)
    before = store.packages.get("p1")
    assert store.packages.enqueue("p1", b"other-link", NOW + 10) is EnqueueOutcome.EXISTING
    assert store.packages.get("p1") == before


def test_enqueue_requeues_an_errored_package_from_scratch(store):
    _claimed(store)
    store.packages.set_step("p1", "t1", Status.ANALYZING, 40, 10, 20, NOW + 1)
    assert store.packages.fail("p1", "t1", "DOWNLOAD_FAILED", NOW + 2)
    assert store.packages.enqueue("p1", b"new-link", NOW + 10) is EnqueueOutcome.REQUEUED
    record = store.packages.get("p1")
    assert record == PackageRecord(
        package_id="p1",
        status=Status.QUEUED,
        sealed_link=b"new-link",
        queued_at=NOW + 10,
        sent_at=NOW + 10,
    )
    assert store.packages.enqueue("p1", b"again", NOW + 11) is EnqueueOutcome.EXISTING


# --- claim -----------------------------------------------------------------------------------


def test_claim_a_queued_package(store):
    store.packages.enqueue("p1", LINK, NOW)
    record = store.packages.claim("p1", "t1", NOW + 1, NOW + 1 - STALE)
    assert isinstance(record, PackageRecord)
    assert record.status is Status.DOWNLOADING
    assert (record.claim_token, record.attempts, record.progress) == ("t1", 1, 0)
    assert record.started_at == record.heartbeat_at == NOW + 1
    assert record.sealed_link == LINK
    assert store.packages.get("p1") == record


def test_claim_unknown_package_is_none(store):
    assert store.packages.claim("nope", "t1", NOW, NOW - STALE) is None


def test_claim_refused_while_heartbeat_is_fresh(store):
    _claimed(store)
    store.packages.set_step("p1", "t1", Status.ANALYZING, 30, None, None, NOW + 50)
    assert store.packages.claim("p1", "t2", NOW + 60, NOW + 60 - STALE) is None
    assert store.packages.get("p1").claim_token == "t1"


@pytest.mark.parametrize("step", [Status.DOWNLOADING, Status.ANALYZING])
def test_claim_takes_over_a_stale_package(store, step):
    _claimed(store)
    store.packages.set_step("p1", "t1", step, 30, 5, 10, NOW + 1)
    later = NOW + 1 + STALE + 1
    record = store.packages.claim("p1", "t2", later, later - STALE)
    assert record is not None
    assert (record.status, record.claim_token, record.attempts) == (Status.DOWNLOADING, "t2", 2)
    assert (record.progress, record.bytes_done, record.bytes_total) == (0, None, None)
    assert record.started_at == record.heartbeat_at == later
    assert not store.packages.set_step("p1", "t1", Status.ANALYZING, 90, None, None, later)


@pytest.mark.parametrize("final", ["processed", "errored"])
def test_claim_refused_when_finished(store, final):
    _claimed(store)
    if final == "processed":
        store.packages.publish("p1", "t1", 1, NOW + 1)
    else:
        store.packages.fail("p1", "t1", "BOOM", NOW + 1)
    far = NOW + 10 * STALE
    assert store.packages.claim("p1", "t2", far, far - STALE) is None


# --- set_step --------------------------------------------------------------------------------


def test_set_step_with_the_claim_token(store):
    _claimed(store)
    assert store.packages.set_step("p1", "t1", Status.ANALYZING, 42, 100, 1000, NOW + 3)
    record = store.packages.get("p1")
    assert (record.status, record.progress, record.heartbeat_at) == (Status.ANALYZING, 42, NOW + 3)
    assert (record.bytes_done, record.bytes_total) == (100, 1000)


def test_set_step_with_unchanged_values_still_holds_the_claim(store):
    _claimed(store)
    assert store.packages.set_step("p1", "t1", Status.DOWNLOADING, 0, None, None, NOW)


def test_set_step_with_a_wrong_token_changes_nothing(store):
    _claimed(store)
    before = store.packages.get("p1")
    assert not store.packages.set_step("p1", "t2", Status.ANALYZING, 42, None, None, NOW + 3)
    assert store.packages.get("p1") == before


def test_set_step_on_a_deleted_or_unclaimed_package(store):
    store.packages.enqueue("p2", LINK, NOW)
    assert not store.packages.set_step("p2", "t1", Status.DOWNLOADING, 1, None, None, NOW)
    _claimed(store)
    store.packages.delete("p1")
    assert not store.packages.set_step("p1", "t1", Status.DOWNLOADING, 1, None, None, NOW)


def test_set_step_rejects_a_non_active_status(store):
    _claimed(store)
    with pytest.raises(ValueError):
        store.packages.set_step("p1", "t1", Status.PROCESSED, 100, None, None, NOW)


# --- publish ---------------------------------------------------------------------------------


def test_publish_by_the_claimer(store):
    _claimed(store)
    assert store.packages.publish("p1", "t1", 7, NOW + 9)
    record = store.packages.get("p1")
    assert (record.status, record.generation, record.finished_at) == (Status.PROCESSED, 7, NOW + 9)
    assert (record.progress, record.sealed_link, record.claim_token) == (100, None, None)
    assert not store.packages.publish("p1", "t1", 8, NOW + 10)  # claim released
    assert store.packages.get("p1").generation == 7


def test_publish_refused_for_another_token_or_a_queued_package(store):
    store.packages.enqueue("p2", LINK, NOW)
    assert not store.packages.publish("p2", "t1", 1, NOW)
    _claimed(store)
    assert not store.packages.publish("p1", "t2", 1, NOW)
    assert store.packages.get("p1").status is Status.DOWNLOADING
    assert store.packages.get("p2").status is Status.QUEUED


# --- fail ------------------------------------------------------------------------------------


def test_fail_by_the_claimer(store):
    _claimed(store)
    assert store.packages.fail("p1", "t1", "TOO_LARGE", NOW + 4)
    record = store.packages.get("p1")
    assert (record.status, record.error_code, record.finished_at) == (
        Status.ERRORED,
        "TOO_LARGE",
        NOW + 4,
    )
    assert (record.sealed_link, record.claim_token) == (None, None)


def test_fail_with_another_token_changes_nothing(store):
    _claimed(store)
    assert not store.packages.fail("p1", "t2", "TOO_LARGE", NOW + 4)
    assert store.packages.get("p1").status is Status.DOWNLOADING


@pytest.mark.parametrize("state", ["queued", "downloading", "analyzing"])
def test_fail_without_token_stops_a_live_package(store, state):
    store.packages.enqueue("p1", LINK, NOW)
    if state != "queued":
        _claimed(store)
    if state == "analyzing":
        store.packages.set_step("p1", "t1", Status.ANALYZING, 10, None, None, NOW)
    assert store.packages.fail("p1", None, "BROKER_UNAVAILABLE", NOW + 1)
    record = store.packages.get("p1")
    assert (record.status, record.error_code) == (Status.ERRORED, "BROKER_UNAVAILABLE")
    assert (record.sealed_link, record.claim_token) == (None, None)


def test_fail_without_token_never_touches_a_processed_package(store):
    _processed(store)
    before = store.packages.get("p1")
    assert not store.packages.fail("p1", None, "WORKER_LOST", NOW + 100)
    assert store.packages.get("p1") == before


def test_fail_an_errored_or_unknown_package(store):
    _claimed(store)
    store.packages.fail("p1", "t1", "FIRST", NOW)
    assert not store.packages.fail("p1", None, "SECOND", NOW + 1)
    assert store.packages.get("p1").error_code == "FIRST"
    assert not store.packages.fail("nope", None, "X", NOW)


# --- stale packages --------------------------------------------------------------------------


def test_find_and_requeue_stale(store):
    for package_id, beat in (("old", NOW), ("older", NOW - 10), ("fresh", NOW + 200)):
        _claimed(store, package_id, now=beat)
    store.packages.enqueue("waiting", LINK, NOW - 1000)
    _processed(store, "done")
    cutoff = NOW + 100
    assert [r.package_id for r in store.packages.find_stale(cutoff)] == ["older", "old"]
    assert [r.package_id for r in store.packages.find_stale(cutoff, limit=1)] == ["older"]
    assert all(isinstance(r, PackageRecord) for r in store.packages.find_stale(cutoff))
    assert store.packages.requeue_stale("old", cutoff, cutoff)
    record = store.packages.get("old")
    assert (record.status, record.claim_token, record.progress) == (Status.QUEUED, None, 0)
    assert (record.queued_at, record.attempts, record.sealed_link) == (NOW, 1, LINK)
    assert not store.packages.requeue_stale("old", cutoff, cutoff)  # now QUEUED
    assert not store.packages.requeue_stale("fresh", cutoff, cutoff)  # heartbeat is recent
    assert not store.packages.requeue_stale("waiting", cutoff, cutoff)
    assert not store.packages.requeue_stale("done", cutoff, cutoff)
    assert [r.package_id for r in store.packages.find_stale(cutoff)] == ["older"]


def test_requeued_stale_package_can_be_claimed_again(store):
    _claimed(store)
    store.packages.requeue_stale("p1", NOW + STALE, NOW + STALE)
    record = store.packages.claim("p1", "t2", NOW + STALE, NOW)
    assert (record.claim_token, record.attempts) == ("t2", 2)


# --- queue position and delete ----------------------------------------------------------------


def test_queue_position(store):
    for package_id, at in (("c", NOW + 2), ("a", NOW), ("b", NOW + 1), ("b2", NOW + 1)):
        store.packages.enqueue(package_id, LINK, at)
    assert store.packages.queue_position("a") == (0, 4)
    assert store.packages.queue_position("b") == (1, 4)
    assert store.packages.queue_position("b2") == (2, 4)  # ties broken by package id
    assert store.packages.queue_position("c") == (3, 4)
    store.packages.claim("a", "t1", NOW + 3, NOW)
    assert store.packages.queue_position("c") == (2, 3)
    assert store.packages.queue_position("a") == (0, 3)  # not queued any more
    assert store.packages.queue_position("nope") == (0, 3)


def test_queue_position_of_an_empty_queue(store):
    assert store.packages.queue_position("nope") == (0, 0)


def test_delete(store):
    store.packages.enqueue("p1", LINK, NOW)
    assert store.packages.delete("p1")
    assert store.packages.get("p1") is None
    assert not store.packages.delete("p1")
    assert store.packages.enqueue("p1", LINK, NOW) is EnqueueOutcome.CREATED


def test_delete_releases_the_claim(store):
    _claimed(store)
    store.packages.delete("p1")
    assert not store.packages.publish("p1", "t1", 1, NOW)
    assert not store.packages.fail("p1", "t1", "X", NOW)
    assert store.packages.get("p1") is None


# --- statistics ------------------------------------------------------------------------------


def test_statistics_put_and_get(store):
    items = [("v1", b"one"), ("v2", b"two")]
    assert store.statistics.put_many("p1", 1, items) == 2
    assert store.statistics.get("p1", 1, "v1") == b"one"
    assert isinstance(store.statistics.get("p1", 1, "v2"), bytes)
    assert store.statistics.get("p1", 2, "v1") is None
    assert store.statistics.get("p2", 1, "v1") is None


def test_statistics_put_is_an_idempotent_upsert(store):
    store.statistics.put_many("p1", 1, [("v1", b"one")])
    assert store.statistics.put_many("p1", 1, [("v1", b"one")]) == 1
    assert store.statistics.put_many("p1", 1, iter([("v1", b"uno")])) == 1
    assert store.statistics.get("p1", 1, "v1") == b"uno"
    assert store.statistics.delete_package("p1") == 1


def test_statistics_put_many_in_several_batches(store, monkeypatch):
    # Small batches keep this fast on mongomock, whose upserts scan the whole collection.
    monkeypatch.setattr(mongo_statistics, "BATCH_SIZE", 3)
    monkeypatch.setattr(sqlite_statistics, "BATCH_SIZE", 3)
    items = ((f"view{i:02d}", i.to_bytes(2, "big")) for i in range(10))
    assert store.statistics.put_many("p1", 1, items) == 10
    assert store.statistics.get("p1", 1, "view09") == (9).to_bytes(2, "big")
    assert store.statistics.get("p1", 1, "view00") == (0).to_bytes(2, "big")
    assert store.statistics.put_many("p1", 1, []) == 0
    assert store.statistics.delete_package("p1") == 10


def test_statistics_large_blob(store):
    blob = bytes(range(256)) * 4096  # 1 MiB, every byte value
    store.statistics.put_many("p1", 1, [("big", blob)])
    assert store.statistics.get("p1", 1, "big") == blob


def test_statistics_delete_package_keeps_a_generation(store):
    store.statistics.put_many("p1", 1, [("v1", b"a"), ("v2", b"b")])
    store.statistics.put_many("p1", 2, [("v1", b"c")])
    store.statistics.put_many("p2", 1, [("v1", b"d")])
    assert store.statistics.delete_package("p1", keep_generation=2) == 2
    assert store.statistics.get("p1", 1, "v1") is None
    assert store.statistics.get("p1", 2, "v1") == b"c"
    assert store.statistics.delete_package("p1") == 1
    assert store.statistics.delete_package("p1") == 0
    assert store.statistics.get("p2", 1, "v1") == b"d"


def test_orphan_package_ids(store):
    store.packages.enqueue("kept", LINK, NOW)
    for package_id in ("kept", "orphan-b", "orphan-a"):
        store.statistics.put_many(package_id, 1, [("v1", b"x"), ("v2", b"y")])
    assert sorted(store.statistics.orphan_package_ids()) == ["orphan-a", "orphan-b"]
    assert len(store.statistics.orphan_package_ids(limit=1)) == 1
    store.packages.delete("kept")
    assert len(store.statistics.orphan_package_ids()) == 3


def test_orphan_package_ids_when_there_are_none(store):
    assert store.statistics.orphan_package_ids() == []


# --- store -----------------------------------------------------------------------------------


def test_ensure_indexes_is_idempotent(store):
    store.packages.enqueue("p1", LINK, NOW)
    store.ensure_indexes()
    store.ensure_indexes()
    assert store.packages.get("p1").status is Status.QUEUED


def test_ping(store):
    assert store.ping() is True


def test_statistics_delete_generation_removes_exactly_that_generation(store):
    store.statistics.put_many("p1", 1, [("v1", b"a"), ("v2", b"b")])
    store.statistics.put_many("p1", 2, [("v1", b"c")])
    store.statistics.put_many("p2", 2, [("v1", b"d")])
    assert store.statistics.delete_generation("p1", 2) == 1
    assert store.statistics.get("p1", 2, "v1") is None
    assert store.statistics.get("p1", 1, "v2") == b"b"
    assert store.statistics.get("p2", 2, "v1") == b"d"
    assert store.statistics.delete_generation("p1", 2) == 0


# --- counts (the API's /metrics) ----------------------------------------------------------------


def test_counts_of_an_empty_store(store):
    assert store.packages.count_by_status() == dict.fromkeys(Status, 0)
    assert store.packages.count_by_error_code() == {}


def test_count_by_status_and_by_error_code(store):
    store.packages.enqueue("queued", LINK, NOW)
    _claimed(store, "running")
    _processed(store, "done")
    for package_id, code in [("e1", "DOWNLOAD_FAILED"), ("e2", "DOWNLOAD_FAILED"), ("e3", "X")]:
        _claimed(store, package_id)
        assert store.packages.fail(package_id, "t1", code, NOW + 1)
    counts = store.packages.count_by_status()
    assert counts == dict.fromkeys(Status, 0) | {
        Status.QUEUED: 1,
        Status.DOWNLOADING: 1,
        Status.PROCESSED: 1,
        Status.ERRORED: 3,
    }
    assert all(isinstance(status, Status) for status in counts)
    assert store.packages.count_by_error_code() == {"DOWNLOAD_FAILED": 2, "X": 1}


def test_count_by_error_code_forgets_a_requeued_package(store):
    _claimed(store)
    assert store.packages.fail("p1", "t1", "DOWNLOAD_FAILED", NOW + 1)
    store.packages.enqueue("p1", LINK, NOW + 2)
    assert store.packages.count_by_error_code() == {}
    assert store.packages.count_by_status()[Status.QUEUED] == 1
