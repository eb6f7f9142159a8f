"""Every Celery setting and the beat schedule, built from `settings.Settings` (the environment).

Loaded by `tasks.celery_app` through `config_from_object("celeryconfig")`.
"""

from datetime import timedelta

from kombu import Queue

from settings import Settings
from tasks import names

_settings = Settings.from_env()

broker_url = _settings.effective_broker_url
# The package document in storage owns status: no result backend is needed.
result_backend = None
task_ignore_result = True

task_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

task_default_queue = names.DEFAULT_QUEUE
task_queues = (Queue(names.PACKAGES_QUEUE), Queue(names.DEFAULT_QUEUE))
task_routes = {
    names.PROCESS_PACKAGE: {"queue": names.PACKAGES_QUEUE},
    "maintenance.*": {"queue": names.DEFAULT_QUEUE},
}

# A package is long and heavy: acknowledge after it ran, take one at a time.
task_acks_late = True
task_reject_on_worker_lost = False  # the reaper and the attempt counter handle lost workers
worker_prefetch_multiplier = 1
task_time_limit = _settings.package_time_limit
task_soft_time_limit = max(_settings.package_time_limit - 60, 60)
# Unacknowledged messages come back after this; it must exceed the longest task.
broker_transport_options = {"visibility_timeout": _settings.package_time_limit + 600}
broker_connection_retry_on_startup = True
broker_connection_timeout = 5

# Secrets never travel in tasks; still, keep arguments out of events and logs shown by Flower.
worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False
worker_max_memory_per_child = 400_000  # KiB: a worker child recycles past this

beat_schedule = {
    "reap-stale-packages": {
        "task": names.REAP_STALE_PACKAGES,
        "schedule": timedelta(seconds=_settings.reaper_interval_seconds),
    },
    "purge-orphan-statistics": {
        "task": names.PURGE_ORPHAN_STATISTICS,
        "schedule": timedelta(hours=1),
    },
    "clean-temp-files": {
        "task": names.CLEAN_TEMP_FILES,
        "schedule": timedelta(hours=1),
    },
}
