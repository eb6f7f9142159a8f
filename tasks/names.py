"""Stable task names: the API sends by these names, the worker registers under them."""

PROCESS_PACKAGE = "packages.process"
REAP_STALE_PACKAGES = "maintenance.reap_stale_packages"
PURGE_ORPHAN_APP_FILES = "maintenance.purge_orphan_app_files"
SWEEP_TOMBSTONES = "maintenance.sweep_tombstones"
PURGE_EXPIRED_PACKAGES = "maintenance.purge_expired_packages"
CLEAN_TEMP_FILES = "maintenance.clean_temp_files"
FOLD_AUDIT_LOG = "maintenance.fold_audit_log"
EXPIRE_AUDIT_RECORDS = "maintenance.expire_audit_records"
FOLD_EVENTS = "maintenance.fold_events"
RECOUNT_PROJECT_STATS = "projects.recount_stats"
RESEND_PROJECT_RECOUNTS = "maintenance.resend_project_recounts"
PURGE_EXPIRED_TRASH = "maintenance.purge_expired_trash"

PACKAGES_QUEUE = "packages"
DEFAULT_QUEUE = "default"


def package_message(package_id: str) -> dict:
    """`send_task` arguments of a package job: the id is the only argument and the task id."""
    return {
        "name": PROCESS_PACKAGE,
        "args": [package_id],
        "task_id": package_id,
        "queue": PACKAGES_QUEUE,
    }


def recount_message(project_id: str) -> dict:
    """`send_task` arguments of a project's statistics recount (the project id only)."""
    return {"name": RECOUNT_PROJECT_STATS, "args": [project_id], "queue": DEFAULT_QUEUE}


ALL = (
    PROCESS_PACKAGE,
    REAP_STALE_PACKAGES,
    PURGE_ORPHAN_APP_FILES,
    SWEEP_TOMBSTONES,
    PURGE_EXPIRED_PACKAGES,
    CLEAN_TEMP_FILES,
    FOLD_AUDIT_LOG,
    EXPIRE_AUDIT_RECORDS,
    FOLD_EVENTS,
    RECOUNT_PROJECT_STATS,
    RESEND_PROJECT_RECOUNTS,
    PURGE_EXPIRED_TRASH,
)
