"""Audit log contract, on both backends: records fold exactly once into per-day counters."""

from __future__ import annotations

import random

from storage import audit
from storage.audit import ACCOUNT, ALL, ORGANIZATION, AuditRecord
from tests.storage.contract_support import NOW


def _record(day="2026-12-01", account="a1", organization="o1", route="/api/v1/accounts/me"):
    return AuditRecord(day, NOW, account, organization, route, "GET", 200, 1.5)


def test_nothing_is_counted_before_a_fold(store):
    store.audit.append([_record(), _record()])
    assert store.audit.pending() == 2
    assert store.audit.daily_calls(ALL, "", "2026-12-01", "2026-12-01") == {}


def test_a_fold_counts_every_call_per_account_and_per_organization(store):
    store.audit.append(
        [
            _record("2026-12-01", "a1", "o1"),
            _record("2026-12-01", "a2", "o1"),
            _record("2026-12-02", "a1", "o1"),
            _record("2026-12-02", None, None),  # anonymous: counted among all calls only
        ]
    )
    assert store.audit.fold(limit=100, now=NOW) == 4
    assert store.audit.pending() == 0
    days = ("2026-11-30", "2026-12-31")
    assert store.audit.daily_calls(ALL, "", *days) == {"2026-12-01": 2, "2026-12-02": 2}
    assert store.audit.daily_calls(ACCOUNT, "a1", *days) == {"2026-12-01": 1, "2026-12-02": 1}
    assert store.audit.daily_calls(ACCOUNT, "a2", *days) == {"2026-12-01": 1}
    assert store.audit.daily_calls(ORGANIZATION, "o1", *days) == {"2026-12-01": 2, "2026-12-02": 1}
    assert store.audit.daily_calls(ACCOUNT, "a1", "2026-12-02", "2026-12-02") == {"2026-12-02": 1}


def test_folds_in_small_steps_count_each_record_once(store):
    rng = random.Random(7)
    records = [
        _record(f"2026-12-0{rng.randint(1, 3)}", rng.choice(["a1", "a2", None]), "o1")
        for _ in range(57)
    ]
    for start in range(0, len(records), 10):
        store.audit.append(records[start : start + 10])
        store.audit.fold(limit=7, now=NOW)
    while store.audit.fold(limit=7, now=NOW):
        pass
    total = store.audit.daily_calls(ALL, "", "2026-12-01", "2026-12-03")
    assert sum(total.values()) == 57
    a1 = sum(store.audit.daily_calls(ACCOUNT, "a1", "2026-12-01", "2026-12-03").values())
    assert a1 == sum(r.account_id == "a1" for r in records)
    assert store.audit.fold(limit=7, now=NOW) == 0  # nothing is counted twice


def test_only_counted_old_records_expire(store):
    store.audit.append([_record("2026-09-01"), _record("2026-12-01")])
    assert store.audit.expire("2026-10-01", limit=100) == 0  # not counted yet: kept
    store.audit.fold(limit=100, now=NOW)
    assert store.audit.expire("2026-10-01", limit=100) == 1
    assert store.audit.expire("2026-10-01", limit=100) == 0
    # the counters outlive the raw records
    assert store.audit.daily_calls(ALL, "", "2026-09-01", "2026-09-01") == {"2026-09-01": 1}


def test_records_come_back_as_they_were_appended(store):
    first = [_record("2026-12-01", "a1", "o1"), _record("2026-12-02", None, None, "/health")]
    second = [AuditRecord("2026-12-02", NOW + 0.25, "a2", None, "/r", "POST", 503, None)]
    store.audit.append(first)
    store.audit.append(second)
    store.audit.append([])
    # batched per append and per day, oldest batch first
    assert list(store.audit.records()) == [first[0], first[1], second[0]]


def test_a_fold_takes_whole_batches_as_many_as_fit_and_at_least_one(store):
    store.audit.append([_record()] * 5)  # one batch of 5
    store.audit.append([_record()] * 2)  # one batch of 2
    store.audit.append([_record()] * 2)
    assert store.audit.fold(limit=3, now=NOW) == 5  # the first, larger than the limit
    assert store.audit.fold(limit=3, now=NOW) == 2  # the next one fits, the third would not
    assert store.audit.fold(limit=4, now=NOW) == 2
    assert store.audit.daily_calls(ALL, "", "2026-12-01", "2026-12-01") == {"2026-12-01": 9}


def test_a_batch_holds_at_most_its_share_of_records(store, monkeypatch):
    monkeypatch.setattr(audit, "BATCH_RECORDS", 4)
    store.audit.append([_record()] * 10)  # batches of 4, 4 and 2
    assert store.audit.fold(limit=1, now=NOW) == 4
    assert store.audit.pending() == 6
    assert store.audit.fold(limit=100, now=NOW) == 6
    assert len(list(store.audit.records())) == 10
