"""The Celery app: `celery -A tasks.celery_app worker|beat|flower`.

Task modules are listed in `include` and imported by the worker when it starts, not by the API
(which only sends tasks by name), so importing this module stays light.
"""

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

import logsafe

app = Celery("dumpus", include=["tasks.packages", "tasks.maintenance"])
app.config_from_object("celeryconfig")


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_links_in_logs(**_: object) -> None:
    """Once Celery has set up its handlers (worker, beat): put logsafe's filter on each."""
    logsafe.install()
