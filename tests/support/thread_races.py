"""Making races show: threads that switch as often as the interpreter allows, so a
check-then-write with a gap between the two is caught in the gap within a few runs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def frequent_thread_switches() -> Iterator[None]:
    """Python's thread switch interval at its smallest for the block (5 ms by default)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def all_at_once(count: int, task: Callable[[], T]) -> list[T]:
    """`task` run by `count` threads released together; their results (in finishing order)."""
    start, results = threading.Barrier(count), []

    def run() -> None:
        start.wait()
        results.append(task())

    threads = [threading.Thread(target=run) for _ in range(count)]
    with frequent_thread_switches():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results
