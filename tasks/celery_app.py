"""The Celery app: `celery -A tasks.celery_app worker|beat|flower`.

Task modules are listed in `include` and imported by the worker when it starts, not by the API
(which only sends tasks by name), so importing this module stays light.

Logging is `logconfig`'s (LOG_LEVEL, LOG_FORMAT, logsafe's filter), set up through Celery's
`setup_logging` signal: a receiver of that signal replaces Celery's own set-up, so the worker and
beat write exactly what the API and Flower write (their `--loglevel` is not used). While a worker
runs a package task, its records carry the package id (`package_id` in JSON lines).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

import logconfig
from settings import Settings, load_or_exit
from tasks import names

load_or_exit()  # a bad variable stops the worker, beat or Flower here, in one line

app = Celery("dumpus", include=["tasks.packages", "tasks.maintenance", "tasks.projects"])
app.config_from_object("celeryconfig")

# Task id -> the token that restores the package id of before the task (None, in practice).
_package_tokens: dict[str, Any] = {}


@setup_logging.connect
def _configure_logging(**_: object) -> None:
    """Worker and beat: the project's logging configuration instead of Celery's."""
    logconfig.configure(Settings.from_env())


@task_prerun.connect
def _enter_package(task_id: str, task: Any, args: Any = (), **_: object) -> None:
    """A package task's records carry its package id while it runs."""
    if getattr(task, "name", None) == names.PROCESS_PACKAGE and args:
        _package_tokens[task_id] = logconfig.package_id.set(str(args[0]))


@task_postrun.connect
def _leave_package(task_id: str, **_: object) -> None:
    """The package id is forgotten once its task has returned or raised."""
    token = _package_tokens.pop(task_id, None)
    if token is not None:
        logconfig.package_id.reset(token)
