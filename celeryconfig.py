"""Every Celery setting and the beat schedule, built from `settings.Settings` (the environment).

Loaded by `tasks.celery_app` through `config_from_object("celeryconfig")`.
"""

from datetime import timedelta

from kombu import Queue

from settings import load_or_exit
from tasks import names

_settings = load_or_exit()  # a bad variable stops the worker, beat or Flower: one line

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
# The soft limit lets a run fail its package cleanly (TIME_LIMIT) before the hard kill.
task_soft_time_limit = max(
    _settings.package_time_limit - 60, int(_settings.package_time_limit * 0.9)
)
# Unacknowledged messages come back after this; it must exceed the longest task.
broker_transport_options = {"visibility_timeout": _settings.package_time_limit + 600}
broker_connection_retry_on_startup = True
broker_connection_timeout = 5

# Events feed Flower; task arguments are package ids only, never a secret.
worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False
worker_max_memory_per_child = 400_000  # KiB: a worker child recycles past this
# Shutdown (docs/shutdown.md): a warm shutdown in which tasks/shutdown.py has the running
# packages handed back. Celery's soft shutdown (cold shutdowns only) would just add a fixed wait.
worker_soft_shutdown_timeout = 0.0


def _every(seconds: int, task: str) -> dict:
    # a sweep not run before the next one is due is dropped, never piled up behind busy workers
    return {"task": task, "schedule": timedelta(seconds=seconds), "options": {"expires": seconds}}


beat_schedule = {
    "reap-stale-packages": _every(_settings.reaper_interval_seconds, names.REAP_STALE_PACKAGES),
    "purge-orphan-app-files": _every(3600, names.PURGE_ORPHAN_APP_FILES),
    "sweep-tombstones": _every(_settings.reaper_interval_seconds, names.SWEEP_TOMBSTONES),
    "purge-expired-packages": _every(
        _settings.reaper_interval_seconds, names.PURGE_EXPIRED_PACKAGES
    ),
    "clean-temp-files": _every(_settings.reaper_interval_seconds, names.CLEAN_TEMP_FILES),
    "fold-audit-log": _every(_settings.audit_fold_seconds, names.FOLD_AUDIT_LOG),
    "expire-audit-records": _every(3600, names.EXPIRE_AUDIT_RECORDS),
    "fold-events": _every(_settings.events_fold_seconds, names.FOLD_EVENTS),
    "resend-project-recounts": _every(
        _settings.recount_resend_seconds, names.RESEND_PROJECT_RECOUNTS
    ),
    "purge-expired-trash": _every(
        _settings.trash_purge_interval_seconds, names.PURGE_EXPIRED_TRASH
    ),
}
