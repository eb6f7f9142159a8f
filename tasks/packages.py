"""The package task: a thin adapter from a broker message to `pipeline.run_package`."""

from __future__ import annotations

import logging

from celery.exceptions import Reject, SoftTimeLimitExceeded

from tasks import names
from tasks.base import BaseTask
from tasks.celery_app import app
from tasks.pipeline import RetryableError, run_package
from tasks.services import get_settings, get_store, keep_activity_spare
from tasks.shutdown import package_run_watch
from tasks.stop import HandBackRequested

log = logging.getLogger(__name__)


@app.task(name=names.PROCESS_PACKAGE, base=BaseTask, bind=True, queue=names.PACKAGES_QUEUE)
def process_package(self, package_id: str) -> str:
    """Process one package (the argument is its id, nothing else)."""
    settings = get_settings()
    # every delivery is a claim: retries stop one short of the attempt limit
    may_retry = self.request.retries < min(self.max_retries, settings.max_attempts - 1)
    try:
        with package_run_watch() as stop:
            outcome = run_package(
                package_id,
                settings,
                get_store(),
                may_retry=may_retry,
                time_limit_errors=(SoftTimeLimitExceeded,),
                stop=stop,
            )
    except RetryableError as exc:
        log.warning("package %s: retryable failure %s", package_id, exc)
        raise self.retry(countdown=self.backoff(), exc=exc) from None
    except HandBackRequested:
        # the package is QUEUED again: its message goes back to the queue, for the next worker
        log.info("package %s: handed back, the worker is stopping", package_id)
        raise Reject("worker stopping", requeue=True) from None
    keep_activity_spare()
    log.info(
        "package %s: %s (%d views, %.1fs)",
        package_id,
        outcome.result,
        outcome.views,
        outcome.seconds,
    )
    return outcome.result
