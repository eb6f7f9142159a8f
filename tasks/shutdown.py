"""A stopping worker hands its running packages back instead of losing them (docs/shutdown.md).

Two halves, one per process kind of a prefork worker:

- the main process, on Celery's `worker_shutting_down` (SIGTERM, SIGINT, SIGQUIT), passes SIGTERM
  on to its pool children (a plain `kill <pid>` reaches only the main process) and, if a child is
  still there `SHUTDOWN_GRACE_SECONDS` later, kills it: the reaper then re-queues its package;
- a pool child running a package takes SIGTERM as a request to give the package back. The run
  stops at its next progress report, or at once while it waits on the network; the task then
  rejects its message back to the queue. An idle child stops as before (billiard's handler).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator

from celery.signals import worker_process_init, worker_ready, worker_shutting_down

from tasks.services import get_settings
from tasks.stop import StopRequest

log = logging.getLogger(__name__)


_stop = StopRequest()
_in_pool_child = False
_running = False
_idle_handler: signal.Handlers | object = signal.SIG_DFL


@contextlib.contextmanager
def package_run_watch() -> Iterator[StopRequest | None]:
    """While a package task runs in a pool child, SIGTERM asks it to hand its package back.

    Yields the child's StopRequest, or None outside a prefork pool child (a solo pool, eager
    tests: the main process keeps Celery's own SIGTERM handling).
    """
    global _running, _stop
    if not _in_pool_child:
        yield None
        return
    _install_handler()
    _stop = StopRequest()  # one per run: a child stopped between runs exits instead
    _running = True
    try:
        yield _stop
    finally:
        _running = False


@worker_process_init.connect
def _note_pool_child(**_kwargs) -> None:
    global _in_pool_child
    _in_pool_child = True


def _install_handler() -> None:
    """Once per child, after billiard installed its own handler (which stops an idle child)."""
    global _idle_handler
    current = signal.getsignal(signal.SIGTERM)
    if current is not _on_sigterm:
        _idle_handler = current
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    if _running:
        _stop.request()
    elif callable(_idle_handler):
        _idle_handler(signum, frame)
    elif _idle_handler != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


# --- the worker's main process ----------------------------------------------------------------

_pool = None
_deadline_started = threading.Event()


@worker_ready.connect
def _remember_pool(sender=None, **_kwargs) -> None:
    """The consumer's pool, whose children the shutdown below signals."""
    global _pool
    _pool = getattr(sender, "pool", None)


@worker_shutting_down.connect
def _hand_back_running_packages(**_kwargs) -> None:
    """Runs inside Celery's signal handler: signals only, the rest in a timer thread."""
    _signal_pool_children(signal.SIGTERM)
    if not _deadline_started.is_set():
        _deadline_started.set()
        timer = threading.Timer(get_settings().shutdown_grace_seconds, _kill_stuck_children)
        timer.daemon = True
        timer.start()


def _live_pool_children() -> list:
    """The pool's child processes still running (never a pid since reused by another process)."""
    # TaskPool._pool is billiard's pool, whose _pool lists its child processes
    processes = getattr(getattr(_pool, "_pool", None), "_pool", None) or []
    try:
        return [process for process in list(processes) if process.is_alive()]
    except (OSError, ValueError, AssertionError):  # a pool being torn down
        return []


def _signal_pool_children(signum: int) -> int:
    sent = 0
    for process in _live_pool_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)
            sent += 1
    return sent


def _kill_stuck_children() -> None:
    """The grace period is over: what still runs is killed; the reaper re-queues its package."""
    killed = _signal_pool_children(signal.SIGKILL)
    if killed:
        log.warning(
            "shutdown: %d pool process(es) still busy after %ss, killed",
            killed,
            get_settings().shutdown_grace_seconds,
        )
