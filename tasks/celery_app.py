"""The Celery app: `celery -A tasks.celery_app worker|beat|flower`.

Task modules are listed in `include` and imported by the worker when it starts, not by the API
(which only sends tasks by name), so importing this module stays light.
"""

from celery import Celery

app = Celery("dumpus", include=["tasks.packages", "tasks.maintenance"])
app.config_from_object("celeryconfig")
