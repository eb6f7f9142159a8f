"""The signal side of a worker's shutdown, in this process: a pool child's SIGTERM handler and the
main process's grace-period kill (the whole path runs in tests/faults/test_shutdown.py)."""

import os
import signal
import time

import billiard
import pytest

from tasks import shutdown
from tasks.stop import HandBackRequested
from tests.faults.conftest import wait_for


@pytest.fixture
def pool_child(monkeypatch):
    """This process plays a pool child whose idle SIGTERM handler records its calls."""
    idle_calls = []
    previous = signal.signal(signal.SIGTERM, lambda *_: idle_calls.append("idle"))
    monkeypatch.setattr(shutdown, "_in_pool_child", True)
    yield idle_calls
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_during_a_run_asks_for_a_hand_back_and_an_idle_child_stops_as_before(pool_child):
    with shutdown.package_run_watch() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(lambda: stop.requested, timeout=10)
        os.kill(os.getpid(), signal.SIGTERM)  # a second one (honcho's and the main's) is harmless
        with pytest.raises(HandBackRequested):
            stop.check()
    assert pool_child == []
    os.kill(os.getpid(), signal.SIGTERM)  # between runs: billiard's handler (here, the recorder)
    wait_for(lambda: pool_child == ["idle"], timeout=10)
    with shutdown.package_run_watch() as next_run:  # a later run starts with no stop asked
        assert next_run is not None and not next_run.requested


def test_sigterm_interrupts_a_run_blocked_in_an_interruptible_wait(pool_child):
    with shutdown.package_run_watch() as stop:
        assert stop is not None
        with pytest.raises(HandBackRequested), stop.interruptible():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(60)  # a download waiting on a silent server


def test_outside_a_pool_child_the_run_is_not_watched(monkeypatch):
    monkeypatch.setattr(shutdown, "_in_pool_child", False)
    before = signal.getsignal(signal.SIGTERM)
    with shutdown.package_run_watch() as stop:
        assert stop is None
    assert signal.getsignal(signal.SIGTERM) is before


class _Pool:
    """The shape of Celery's TaskPool that the shutdown reads: `_pool._pool`, the processes."""

    def __init__(self, processes):
        self._pool = type("BilliardPool", (), {"_pool": processes})()


def test_children_still_running_after_the_grace_period_are_killed(monkeypatch):
    stuck = billiard.Process(target=time.sleep, args=(120,))
    done = billiard.Process(target=time.sleep, args=(0,))
    for process in (stuck, done):
        process.start()
    done.join()
    monkeypatch.setattr(shutdown, "_pool", _Pool([stuck, done]))
    try:
        shutdown._kill_stuck_children()
        stuck.join(30)
        assert stuck.exitcode == -signal.SIGKILL
    finally:
        if stuck.is_alive():
            stuck.kill()
            stuck.join()
