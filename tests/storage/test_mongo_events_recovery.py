"""On MongoDB (no transaction spans a fold's documents), a fold or a deletion that fails midway is
finished by whoever takes the lease next (at once when the failure gave the lease back, after
LEASE_SECONDS when its holder died), and no counter takes an event twice."""

from __future__ import annotations

import uuid

import mongomock
import pytest

from storage import mongo_events
from storage.events import DayCount, Event, EventsBusy, new_event_id, utc_day
from storage.mongo_events import LEASE_SECONDS, MongoEventStore

NOW = 1_764_633_600.0
DAY = utc_day(NOW)
STORE = str(uuid.uuid4())
ADA, BOB = str(uuid.uuid4()), str(uuid.uuid4())
EVERY_DAY = ("2000-01-01", "2999-12-31")


class Dies(Exception):
    pass


def _events() -> MongoEventStore:
    events = MongoEventStore(mongomock.MongoClient()[f"events_{uuid.uuid4().hex}"])
    events.ensure_indexes()
    events.append(
        [Event(new_event_id(), STORE, user, "view", b"{}", NOW) for user in (ADA, ADA, BOB)]
    )
    return events


def _dying_after(monkeypatch, calls: int) -> None:
    """The next `calls` counter updates happen, then the process dies."""
    original, done = mongo_events._add_once, []

    def add_then_die(*args, **kwargs):
        if len(done) == calls:
            raise Dies
        done.append(args[1])
        original(*args, **kwargs)

    monkeypatch.setattr(mongo_events, "_add_once", add_then_die)
    return original


def _figures(events: MongoEventStore) -> tuple[list[DayCount], list[DayCount]]:
    return (
        events.type_days(STORE, "view", *EVERY_DAY, 0, 10).days,
        events.store_days(STORE, *EVERY_DAY, 0, 10).days,
    )


@pytest.mark.parametrize("calls", [0, 1, 2, 3])
def test_a_fold_dying_after_part_of_its_counters_is_finished_once(monkeypatch, calls):
    events = _events()
    original = _dying_after(monkeypatch, calls)
    with pytest.raises(Dies):
        events.fold(limit=10, now=NOW)
    monkeypatch.setattr(mongo_events, "_add_once", original)
    assert events.pending() == 3
    assert events.fold(limit=10, now=NOW + 1) == 3  # the claim is finished, then nothing new
    assert events.pending() == 0
    assert _figures(events) == ([DayCount(DAY, 3, 2)], [DayCount(DAY, 3, 0)])


def test_a_claim_applied_again_is_not_counted_again():
    events = _events()
    events.fold(limit=10, now=NOW)
    events._events.update_many({}, {"$set": {"counted": False}})  # as if the last mark was lost
    assert events.fold(limit=10, now=NOW + 1) == 3
    assert _figures(events) == ([DayCount(DAY, 3, 2)], [DayCount(DAY, 3, 0)])


@pytest.mark.parametrize("calls", [0, 1])
def test_a_deletion_dying_midway_takes_nothing_out_twice_when_run_again(monkeypatch, calls):
    events = _events()
    events.fold(limit=10, now=NOW)
    original = _dying_after(monkeypatch, calls)
    with pytest.raises(Dies):
        events.delete_shopper(STORE, ADA, NOW)
    monkeypatch.setattr(mongo_events, "_add_once", original)
    assert events.delete_shopper(STORE, ADA, NOW + 1) == 2
    assert _figures(events) == ([DayCount(DAY, 1, 1)], [DayCount(DAY, 1, 0)])


def test_a_deletion_first_finishes_what_a_dead_fold_left(monkeypatch):
    events = _events()
    original = _dying_after(monkeypatch, 1)  # ADA's per-day counter only
    with pytest.raises(Dies):
        events.fold(limit=10, now=NOW)
    monkeypatch.setattr(mongo_events, "_add_once", original)
    assert events.delete_shopper(STORE, ADA, NOW + 1) == 2
    assert _figures(events) == ([DayCount(DAY, 1, 1)], [DayCount(DAY, 1, 0)])
    assert events.pending() == 0


def test_a_held_lease_makes_a_fold_wait_its_turn_and_a_deletion_give_up(monkeypatch):
    events = _events()
    assert events._take_lease("someone else", NOW)
    assert events.fold(limit=10, now=NOW) == 0 and events.pending() == 3
    monkeypatch.setattr(mongo_events, "LEASE_WAIT_SECONDS", 0.2)
    with pytest.raises(EventsBusy):
        events.delete_shopper(STORE, ADA, NOW)
    assert events.fold(limit=10, now=NOW + LEASE_SECONDS + 1) == 3  # the holder died
