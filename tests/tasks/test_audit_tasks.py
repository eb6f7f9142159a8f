"""Beat's audit sweepers: the fold counts everything pending, in batches, once; the expiry keeps
AUDIT_RETENTION_DAYS of raw records and never touches the counters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from storage.audit import ALL, AuditRecord
from tasks import maintenance


def _records(day: str, count: int) -> list[AuditRecord]:
    return [AuditRecord(day, 0.0, "a1", "o1", "/r", "GET", 200, 1.0)] * count


def test_the_fold_counts_every_pending_record_across_batches(store, monkeypatch):
    monkeypatch.setattr(maintenance, "FOLD_BATCH", 7)
    store.audit.append(_records("2026-12-01", 30))
    assert maintenance.fold_audit_log() == 30
    assert maintenance.fold_audit_log() == 0
    assert store.audit.daily_calls(ALL, "", "2026-12-01", "2026-12-01") == {"2026-12-01": 30}


def test_expiry_keeps_the_retention_window_and_the_counters(store, settings):
    today = datetime.now(UTC).date()
    old = (today - timedelta(days=settings.audit_retention_days + 1)).isoformat()
    kept = (today - timedelta(days=settings.audit_retention_days - 1)).isoformat()
    store.audit.append(_records(old, 3) + _records(kept, 2))
    maintenance.fold_audit_log()
    assert maintenance.expire_audit_records() == 3
    assert maintenance.expire_audit_records() == 0
    assert [r.day for r in store.audit.records()] == [kept, kept]
    assert store.audit.daily_calls(ALL, "", old, old) == {old: 3}


def test_nothing_uncounted_expires(store):
    day = (date(2000, 1, 1)).isoformat()
    store.audit.append(_records(day, 2))
    assert maintenance.expire_audit_records() == 0  # not folded yet
    assert store.audit.pending() == 2
