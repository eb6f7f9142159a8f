"""The bandwidth store's contract on both backends: charges checked against the limit and
never past it (also with concurrent callers), settled and refunded exactly once, deletions
logged, days kept apart, entries listed newest first and capped, resets, limits and a meter's
deletion."""

from __future__ import annotations

import uuid

import pytest

from storage.bandwidth import DayUsage
from tests.support.thread_races import all_at_once

DAY, NEXT_DAY, LATER_DAY = "2026-12-01", "2026-12-02", "2026-12-05"
T0 = 1_764_547_200.0  # 2026-12-01T00:00:00Z
LISTED = 100


@pytest.fixture
def meter() -> str:
    return f"account:{uuid.uuid4()}"


def usage(store, meter: str, day: str = DAY, listed: int = LISTED) -> DayUsage:
    return store.bandwidth.usage(meter, day, listed)


def charged(store, meter: str, size: int, day: str = DAY, name: str = "f", at: float = T0):
    transfer = store.bandwidth.charge(meter, day, size, 1_000, name, at)
    assert transfer is not None
    return transfer


def test_nothing_recorded_is_a_day_of_zeros(store, meter):
    assert usage(store, meter) == DayUsage(meter, DAY, 0, 0, 0, 0, [], [])
    assert store.bandwidth.usages(meter, DAY, LATER_DAY, LISTED) == []
    assert store.bandwidth.limit(meter) is None


def test_a_charge_adds_an_upload_with_its_name_size_and_time(store, meter):
    transfer = store.bandwidth.charge(meter, DAY, 300, 1_000, "a.zip", T0 + 5)
    assert transfer is not None and transfer.id
    assert (transfer.file_name, transfer.size, transfer.at) == ("a.zip", 300, T0 + 5)
    assert usage(store, meter) == DayUsage(meter, DAY, 300, 0, 1, 0, [transfer], [])


def test_a_charge_up_to_the_limit_passes_and_one_byte_more_is_refused(store, meter):
    assert store.bandwidth.charge(meter, DAY, 600, 1_000, "a", T0) is not None
    assert store.bandwidth.charge(meter, DAY, 401, 1_000, "b", T0) is None
    before = usage(store, meter)
    assert (before.uploaded, before.upload_count, len(before.uploads)) == (600, 1, 1)
    assert store.bandwidth.charge(meter, DAY, 400, 1_000, "c", T0) is not None
    assert usage(store, meter).uploaded == 1_000
    assert store.bandwidth.charge(meter, DAY, 1, 1_000, "d", T0) is None
    assert store.bandwidth.charge(meter, DAY, 0, 1_000, "empty", T0) is not None


def test_a_first_charge_larger_than_the_limit_records_nothing(store, meter):
    assert store.bandwidth.charge(meter, DAY, 1_001, 1_000, "big", T0) is None
    assert usage(store, meter) == DayUsage(meter, DAY)
    assert all(not day.has_activity for day in store.bandwidth.usages(meter, DAY, DAY, LISTED))


def test_settle_moves_the_days_total_down_and_up_without_a_limit_check(store, meter):
    first, second = charged(store, meter, 500), charged(store, meter, 200)
    store.bandwidth.settle(meter, DAY, first.id, 100)
    day = usage(store, meter)
    assert (day.uploaded, day.upload_count) == (300, 2)
    assert {t.id: t.size for t in day.uploads} == {first.id: 100, second.id: 200}
    store.bandwidth.settle(meter, DAY, first.id, 5_000)  # over the limit: the caller's call
    assert usage(store, meter).uploaded == 5_200
    assert store.bandwidth.charge(meter, DAY, 1, 1_000, "x", T0) is None


def test_settle_and_refund_of_an_unknown_id_or_another_day_change_nothing(store, meter):
    transfer = charged(store, meter, 500)
    before = usage(store, meter)
    for other_day, transfer_id in ((DAY, "nope"), (NEXT_DAY, transfer.id)):
        store.bandwidth.settle(meter, other_day, transfer_id, 1)
        store.bandwidth.refund(meter, other_day, transfer_id)
    store.bandwidth.settle(f"{meter}-other", DAY, transfer.id, 1)
    assert usage(store, meter) == before


def test_a_refund_removes_the_upload_and_its_bytes_once(store, meter):
    kept, failed = charged(store, meter, 300, name="kept"), charged(store, meter, 600)
    store.bandwidth.refund(meter, DAY, failed.id)
    store.bandwidth.refund(meter, DAY, failed.id)
    assert usage(store, meter) == DayUsage(meter, DAY, 300, 0, 1, 0, [kept], [])
    assert store.bandwidth.charge(meter, DAY, 700, 1_000, "room again", T0) is not None


def test_a_deletion_is_logged_and_never_charged(store, meter):
    charged(store, meter, 1_000)
    deletion = store.bandwidth.log_deletion(meter, DAY, "old.zip", 4_000, T0 + 1)
    assert (deletion.file_name, deletion.size, deletion.at) == ("old.zip", 4_000, T0 + 1)
    day = usage(store, meter)
    assert (day.uploaded, day.deleted, day.upload_count, day.deletion_count) == (1_000, 4_000, 1, 1)
    assert day.deletions == [deletion]
    assert store.bandwidth.charge(meter, DAY, 1, 1_000, "x", T0) is None  # deletions free nothing


def test_days_and_meters_are_kept_apart(store, meter):
    charged(store, meter, 1_000)
    other = f"client:{uuid.uuid4().hex}"
    assert store.bandwidth.charge(meter, NEXT_DAY, 1_000, 1_000, "next", T0) is not None
    assert store.bandwidth.charge(other, DAY, 1_000, 1_000, "other", T0) is not None
    assert [usage(store, meter, d).uploaded for d in (DAY, NEXT_DAY)] == [1_000, 1_000]
    assert usage(store, other).upload_count == 1 and usage(store, other, NEXT_DAY).uploaded == 0


def test_usages_are_the_recorded_days_of_the_range_newest_first(store, meter):
    for day in (DAY, NEXT_DAY, LATER_DAY):
        charged(store, meter, 10, day=day)
    store.bandwidth.log_deletion(meter, "2026-12-03", "gone", 7, T0)
    days = store.bandwidth.usages(meter, DAY, "2026-12-04", LISTED)
    assert [d.day for d in days] == ["2026-12-03", NEXT_DAY, DAY]
    assert [(d.uploaded, d.deleted) for d in days] == [(0, 7), (10, 0), (10, 0)]
    assert days[0].deletions[0].file_name == "gone"
    assert store.bandwidth.usages(meter, "2026-12-06", "2026-12-31", LISTED) == []


def test_entries_are_newest_first_and_capped_while_counters_stay_exact(store, meter):
    made = [charged(store, meter, 1, name=f"u{n}", at=T0 + n) for n in range(5)]
    same_time = [charged(store, meter, 1, name=f"s{n}", at=T0 + 10) for n in range(3)]
    deletions = [store.bandwidth.log_deletion(meter, DAY, f"d{n}", 2, T0 + n) for n in range(4)]
    day = store.bandwidth.usage(meter, DAY, 3)
    assert day.uploads == same_time[::-1]  # the same time: the last counted first
    assert day.deletions == deletions[:0:-1]
    assert (day.uploaded, day.upload_count, day.deleted, day.deletion_count) == (8, 8, 8, 4)
    (listed,) = store.bandwidth.usages(meter, DAY, DAY, 6)
    assert listed.uploads == [*same_time[::-1], made[4], made[3], made[2]]


def test_reset_empties_one_day_only(store, meter):
    charged(store, meter, 1_000)
    store.bandwidth.log_deletion(meter, DAY, "gone", 5, T0)
    charged(store, meter, 20, day=NEXT_DAY)
    store.bandwidth.reset(meter, DAY)
    assert usage(store, meter) == DayUsage(meter, DAY)
    assert usage(store, meter, NEXT_DAY).uploaded == 20
    assert [d.day for d in store.bandwidth.usages(meter, DAY, LATER_DAY, LISTED)] == [NEXT_DAY]
    assert store.bandwidth.charge(meter, DAY, 1_000, 1_000, "again", T0) is not None


def test_a_limit_is_set_replaced_and_cleared_per_meter(store, meter):
    store.bandwidth.set_limit(meter, 5_000)
    store.bandwidth.set_limit(meter, 7_000)
    assert store.bandwidth.limit(meter) == 7_000
    assert store.bandwidth.limit(f"{meter}-other") is None
    store.bandwidth.set_limit(meter, None)
    store.bandwidth.set_limit(meter, None)
    assert store.bandwidth.limit(meter) is None


def test_deleting_a_meter_removes_its_days_entries_and_limit_only(store, meter):
    other = f"account:{uuid.uuid4()}"
    for who in (meter, other):
        store.bandwidth.set_limit(who, 9)
        charged(store, who, 5)
        store.bandwidth.log_deletion(who, NEXT_DAY, "gone", 5, T0)
    store.bandwidth.delete_meter(meter)
    assert store.bandwidth.usages(meter, DAY, LATER_DAY, LISTED) == []
    assert store.bandwidth.limit(meter) is None
    assert len(store.bandwidth.usages(other, DAY, LATER_DAY, LISTED)) == 2
    assert store.bandwidth.limit(other) == 9


def test_concurrent_charges_never_pass_the_limit_together(store):
    # On mongomock each operation runs whole (tests/support/mongomock_compat.py), as on a server
    for _round in range(3):  # a fresh meter each time: more chances for a gap to show
        meter = f"account:{uuid.uuid4()}"
        results = all_at_once(
            40, lambda meter=meter: store.bandwidth.charge(meter, DAY, 10, 205, "part", T0)
        )
        assert sum(result is not None for result in results) == 20
        day = usage(store, meter)
        assert (day.uploaded, day.upload_count, len(day.uploads)) == (200, 20, 20)
