"""The defaults every task shares, in one visible place (Celery ignores misspelled options)."""

from __future__ import annotations

import logging

from celery import Task

log = logging.getLogger(__name__)


class BaseTask(Task):
    """Acks late, never stores results, logs only the task name and id (never arguments)."""

    acks_late = True
    ignore_result = True
    typing = True
    max_retries = 2
    retry_backoff_seconds = 30

    def backoff(self) -> int:
        """Seconds before the next retry: exponential from `retry_backoff_seconds`."""
        return self.retry_backoff_seconds * (2**self.request.retries)

    def before_start(self, task_id, args, kwargs) -> None:
        log.info("start %s[%s]", self.name, task_id)
