"""A MongoDB fold that dies midway (no transaction spans its documents) is finished by the next
fold once its claim is old, and no counter takes a batch twice."""

from __future__ import annotations

import mongomock
import pytest

from storage.audit import ACCOUNT, ALL, AuditRecord
from storage.mongo_audit import CLAIM_SECONDS, MongoAuditLog

NOW = 1_700_000_000.0


def _log() -> MongoAuditLog:
    log = MongoAuditLog(mongomock.MongoClient()["audit_test"])
    log.ensure_indexes()
    log.append([AuditRecord("2026-12-01", NOW, "a1", "o1", "/r", "GET", 200, 1.0)] * 3)
    return log


class Dies(Exception):
    pass


def test_a_fold_dying_after_part_of_its_counters_is_finished_once(monkeypatch):
    log = _log()
    added = []
    original = log._add_once

    def add_then_die(kind, subject, day, calls, batch):
        if added:  # the first counter is updated, then the process dies
            raise Dies
        added.append(kind)
        original(kind, subject, day, calls, batch)

    monkeypatch.setattr(log, "_add_once", add_then_die)
    with pytest.raises(Dies):
        log.fold(limit=10, now=NOW)
    monkeypatch.setattr(log, "_add_once", original)
    assert log.fold(limit=10, now=NOW + 1) == 0  # the claim is fresh: left to its folder
    assert log.pending() == 3
    assert log.fold(limit=10, now=NOW + CLAIM_SECONDS + 1) == 3
    assert log.pending() == 0
    assert log.daily_calls(ALL, "", "2026-12-01", "2026-12-01") == {"2026-12-01": 3}
    assert log.daily_calls(ACCOUNT, "a1", "2026-12-01", "2026-12-01") == {"2026-12-01": 3}


def test_a_batch_applied_again_is_not_counted_again():
    log = _log()
    log.fold(limit=10, now=NOW)
    batch = log._records.find_one({})["batch"]
    log._records.update_many({}, {"$set": {"folded": False}})  # as if the last mark was lost
    assert log.fold(limit=10, now=NOW + CLAIM_SECONDS + 1) == 3
    assert log.daily_calls(ALL, "", "2026-12-01", "2026-12-01") == {"2026-12-01": 3}
    assert batch in log._counters.find_one({"kind": ALL})["applied"]


def _first_layout_document(day: str, account: str | None, folded: bool) -> dict:
    return {
        "day": day,
        "at": NOW,
        "account_id": account,
        "organization_id": None,
        "route": "/r",
        "method": "GET",
        "status": 200,
        "duration_ms": 1.5,
        "batch": None,
        "claimed_at": None,
        "folded": folded,
    }


def test_documents_of_the_first_layout_become_batches_once(monkeypatch):
    db = mongomock.MongoClient()["audit_test"]
    db["audit_records"].insert_many(
        [
            _first_layout_document("2026-12-01", "a1", True),
            _first_layout_document("2026-12-01", "a2", False),
            _first_layout_document("2026-12-02", None, False),
        ]
    )
    log = MongoAuditLog(db)
    moved = log._first_layout.delete_many

    def die(query):
        raise Dies

    monkeypatch.setattr(log._first_layout, "delete_many", die)
    with pytest.raises(Dies):
        log.ensure_indexes()  # the batches are stored, then the process dies
    monkeypatch.setattr(log._first_layout, "delete_many", moved)
    log.ensure_indexes()  # run again: the same batches, not stored twice
    assert db["audit_records"].count_documents({}) == 0
    assert [(r.day, r.account_id) for r in log.records()] == [
        ("2026-12-01", "a1"),
        ("2026-12-01", "a2"),
        ("2026-12-02", None),
    ]
    assert log.pending() == 2
    assert log.fold(limit=10, now=NOW) == 2
    assert log.daily_calls(ALL, "", "2026-12-01", "2026-12-02") == {
        "2026-12-01": 1,
        "2026-12-02": 1,
    }
