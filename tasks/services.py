"""Per-process services of the worker: settings and one store, created after the worker forks."""

from __future__ import annotations

from celery.signals import worker_process_init

from parsers.activity.child import SPARE
from settings import Settings
from storage import Store, open_store
from tasks import names

_settings: Settings | None = None
_store: Store | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def get_store() -> Store:
    """The process's store, opened on first use (so never shared across a fork)."""
    global _store
    if _store is None:
        _store = open_store(get_settings())
    return _store


def use(settings: Settings | None = None, store: Store | None = None) -> None:
    """Install given services (the local command and tests build their own)."""
    global _settings, _store
    _settings, _store = settings, store


@worker_process_init.connect
def _forget_inherited_services(**_kwargs) -> None:
    """A forked pool child must not reuse its parent's connection."""
    global _store
    _store = None


def keep_activity_spare() -> None:
    """Start an activity process for the next package unless one waits (ACTIVITY_SPARE_PROCESS):
    its interpreter, imports and inflater get ready between packages, not during the next one."""
    if get_settings().activity_spare_process:
        SPARE.start()


@worker_process_init.connect
def _start_activity_spare(**_kwargs) -> None:
    """Each pool process of a worker that takes packages gets its spare when it starts (never
    the worker's main process: a fork would copy the spare's pipes; never a sweeper's)."""
    from tasks.celery_app import app  # loaded by then: it is the app of this worker

    if names.PACKAGES_QUEUE in (app.amqp.queues.consume_from or ()):
        keep_activity_spare()
