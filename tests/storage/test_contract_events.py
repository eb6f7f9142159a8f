"""The events store's contract on both backends: events durable as appended, folded into the
per-day counters exactly once, taken back out when a shopper's events are deleted; and a
property test that any stream of events, folds and deletions leaves the counters equal to a
recount of the stored events."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.events import DayCount, Event, new_event_id, utc_day

DAY = 86_400.0
T0 = 1_764_633_600.0  # 2025-12-02T00:00:00Z
STORE, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
ADA, BOB, CY = (str(uuid.uuid4()) for _ in range(3))
EVERY_DAY = ("2000-01-01", "2999-12-31")


def event(user: str, kind: str = "view", at: float = T0, store: str = STORE) -> Event:
    return Event(new_event_id(), store, user, kind, orjson.dumps({"page": "/"}), at)


def fold_all(store) -> int:
    folded = 0
    while done := store.events.fold(1000, T0):
        folded += done
    return folded


def type_days(store, kind: str, store_id: str = STORE) -> list[DayCount]:
    return store.events.type_days(store_id, kind, *EVERY_DAY, 0, 10_000).days


def store_days(store, store_id: str = STORE) -> list[tuple[str, int]]:
    return [
        (d.day, d.events) for d in store.events.store_days(store_id, *EVERY_DAY, 0, 10_000).days
    ]


def test_appended_events_are_kept_as_given_and_pending_until_folded(store):
    made = [event(ADA), event(BOB, "buy", T0 + 5)]
    store.events.append(made)
    assert list(store.events.events(STORE)) == made
    assert store.events.pending() == 2
    assert type_days(store, "view") == []  # nothing is counted before a fold
    assert fold_all(store) == 2 and store.events.pending() == 0
    assert fold_all(store) == 0  # each event once


def test_counters_per_type_day_count_events_and_distinct_shoppers(store):
    store.events.append(
        [event(ADA), event(ADA), event(BOB), event(ADA, at=T0 + DAY), event(CY, "buy")]
    )
    store.events.append([event(ADA, store=OTHER)])
    fold_all(store)
    day1, day2 = utc_day(T0), utc_day(T0 + DAY)
    assert type_days(store, "view") == [DayCount(day1, 3, 2), DayCount(day2, 1, 1)]
    assert type_days(store, "buy") == [DayCount(day1, 1, 1)]
    assert store_days(store) == [(day1, 4), (day2, 1)]
    assert store_days(store, OTHER) == [(day1, 1)]
    store.events.append([event(ADA), event(CY)])  # a later fold adds to the same day
    fold_all(store)
    assert type_days(store, "view")[0] == DayCount(day1, 5, 3)


def test_a_page_covers_a_range_of_days_with_offset_and_limit(store):
    store.events.append([event(ADA, at=T0 + n * DAY) for n in range(10)])
    fold_all(store)
    page = store.events.store_days(STORE, utc_day(T0 + 2 * DAY), utc_day(T0 + 8 * DAY), 1, 3)
    assert page.total_days == 7
    assert [d.day for d in page.days] == [utc_day(T0 + n * DAY) for n in (3, 4, 5)]
    page = store.events.type_days(STORE, "view", utc_day(T0 + 8 * DAY), "2999-01-01", 0, 10)
    assert (page.total_days, [d.events for d in page.days]) == (2, [1, 1])


def test_a_batch_of_many_shoppers_old_and_new_is_counted_per_shopper(store):
    """More shoppers in one append than one lookup of their keys takes (SQLite: 500)."""
    known = [str(uuid.uuid4()) for _ in range(700)]
    store.events.append([event(user) for user in known[:300]])
    new = [str(uuid.uuid4()) for _ in range(900)]
    batch = [event(user) for user in known + new] + [event(user, "buy") for user in known[::2]]
    store.events.append(batch)
    store.events.append([event(user, store=OTHER) for user in new[:10]])
    fold_all(store)
    assert type_days(store, "view") == [DayCount(utc_day(T0), 1900, 1600)]
    assert type_days(store, "buy") == [DayCount(utc_day(T0), 350, 350)]
    assert type_days(store, "view", OTHER) == [DayCount(utc_day(T0), 10, 10)]
    assert store.events.delete_shopper(STORE, known[0], T0) == 3
    fold_all(store)
    assert type_days(store, "view") == [DayCount(utc_day(T0), 1898, 1599)]


def test_deleting_a_shoppers_events_corrects_the_counters(store):
    store.events.append([event(ADA), event(ADA, "buy"), event(BOB), event(ADA, at=T0 + DAY)])
    fold_all(store)
    store.events.append([event(ADA)])  # pending: deleted, never counted
    assert store.events.delete_shopper(STORE, ADA, T0) == 4
    assert store.events.delete_shopper(STORE, ADA, T0) == 0
    assert [e.user_id for e in store.events.events(STORE)] == [BOB]
    assert type_days(store, "view") == [DayCount(utc_day(T0), 1, 1)]
    assert type_days(store, "buy") == []  # a day left with no event is not listed
    assert store_days(store) == [(utc_day(T0), 1)]
    assert fold_all(store) == 0 and store.events.pending() == 0


def test_a_shopper_of_another_store_keeps_its_events(store):
    store.events.append([event(ADA), event(ADA, store=OTHER)])
    fold_all(store)
    assert store.events.delete_shopper(OTHER, ADA, T0) == 1
    assert store_days(store) == [(utc_day(T0), 1)]


def test_deleting_a_store_deletes_its_events_and_counters(store):
    store.events.append([event(ADA), event(BOB), event(ADA, store=OTHER)])
    fold_all(store)
    store.events.append([event(CY)])
    assert store.events.delete_store(STORE) == 3
    assert list(store.events.events(STORE)) == [] and store_days(store) == []
    assert type_days(store, "view") == []
    assert store_days(store, OTHER) == [(utc_day(T0), 1)]
    assert store.events.pending() == 0


# -- counters equal a recount, whatever the stream -------------------------------------------

USERS = [str(uuid.UUID(int=n)) for n in range(1, 5)]
STORES = (STORE, OTHER)

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("events"),
            st.lists(
                st.tuples(
                    st.sampled_from(STORES),
                    st.sampled_from(USERS),
                    st.sampled_from(("view", "buy")),
                    st.integers(0, 3),  # day
                ),
                max_size=12,
            ),
        ),
        st.tuples(st.just("fold"), st.integers(1, 7)),
        st.tuples(st.just("delete"), st.tuples(st.sampled_from(STORES), st.sampled_from(USERS))),
        st.tuples(st.just("delete_store"), st.sampled_from(STORES)),
    ),
    max_size=25,
)


def recount(store, store_id: str) -> tuple[dict, dict]:
    per_type: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for e in store.events.events(store_id):
        per_type[e.type, utc_day(e.created_at)][e.user_id] += 1
    type_counts = {
        key: DayCount(key[1], sum(users.values()), len(users)) for key, users in per_type.items()
    }
    per_store: Counter[str] = Counter()
    for (_type, day), users in per_type.items():
        per_store[day] += sum(users.values())
    return type_counts, dict(per_store)


def counters(store, store_id: str) -> tuple[dict, dict]:
    type_counts = {
        (kind, d.day): d for kind in ("view", "buy") for d in type_days(store, kind, store_id)
    }
    return type_counts, dict(store_days(store, store_id))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=steps)
def test_any_stream_leaves_the_counters_equal_to_a_recount(store, stream):
    for store_id in STORES:  # hypothesis reuses the fixture: start each example empty
        store.events.delete_store(store_id)
    fold_all(store)
    expected_deleted: Counter[tuple[str, str]] = Counter()
    for step, argument in stream:
        if step == "events":
            store.events.append(
                [
                    event(user, kind, T0 + day * DAY, store_id)
                    for store_id, user, kind, day in argument
                ]
            )
            for store_id, user, _kind, _day in argument:
                expected_deleted[store_id, user] += 1
        elif step == "fold":
            store.events.fold(argument, T0)
        elif step == "delete":
            assert store.events.delete_shopper(*argument, T0) == expected_deleted.pop(argument, 0)
        else:
            store.events.delete_store(argument)
            for key in [key for key in expected_deleted if key[0] == argument]:
                del expected_deleted[key]
    fold_all(store)
    for store_id in STORES:
        assert counters(store, store_id) == recount(store, store_id)


def test_the_day_of_an_event_is_its_utc_day():
    from datetime import UTC, datetime

    moments = [T0 - 0.001, T0, T0 + DAY - 0.5, T0 + DAY, 0.0, 951_782_400.0 + 0.25]  # 2000-02-29
    days = [utc_day(at) for at in moments]
    assert days == [datetime.fromtimestamp(at, UTC).date().isoformat() for at in moments]
    assert days[-1] == "2000-02-29" and days[0] == "2025-12-01"


def test_events_after_deleting_the_newest_counted_ones_are_counted(store):
    store.events.append([event(ADA), event(BOB)])
    fold_all(store)
    store.events.delete_shopper(STORE, BOB, T0)  # the newest, counted
    store.events.delete_shopper(STORE, ADA, T0)  # now none is left
    store.events.append([event(CY)])
    assert store.events.pending() == 1
    assert fold_all(store) == 1
    assert type_days(store, "view") == [DayCount(utc_day(T0), 1, 1)]
