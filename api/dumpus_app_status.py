"""What the Dumpus app is told: its status document, and our error codes mapped to its six.

The app shows a message for six codes only (any other gives a blank error screen), reads
`processingStep` as exact strings (`LOCKED` shows the queue, `PROCESSED` starts the download) and
needs `processingQueuePosition` to be an object. A processed package whose data file cannot be
given (no owner in the package, files turned off) is an error for the app, with its code.
"""

from __future__ import annotations

from typing import get_args

from api.dumpus_app_schemas import AppErrorCode
from storage.base import AppFileRecord, PackageRecord, Status

APP_ERROR_CODES: tuple[str, ...] = get_args(AppErrorCode)  # the six the app can show
# Our code -> the closest the app can show. Anything unlisted is UNKNOWN_ERROR.
ERROR_CODES = {
    "INVALID_LINK": "INVALID_LINK",  # refused link, or its key was destroyed before the run
    "EXPIRED_LINK": "EXPIRED_LINK",  # the link answered 4xx
    "INVALID_PACKAGE": "INVALID_LINK",  # the link gave no readable Discord package
    "MISSING_USER_DATA": "MISSING_USER_DATA",  # processed, but the package names no owner
    "DOWNLOAD_FAILED": "UNKNOWN_ERROR",  # 5xx, cut transfer, refused redirect: retry later
    "TOO_LARGE": "UNKNOWN_ERROR",  # over MAX_PACKAGE_BYTES
    "WORKER_LOST": "UNKNOWN_ERROR",  # stopped its worker MAX_ATTEMPTS times
    "TIME_LIMIT": "UNKNOWN_ERROR",  # over PACKAGE_TIME_LIMIT
    "BROKER_UNAVAILABLE": "UNKNOWN_ERROR",  # could not be queued: a new POST queues it
    "RATE_LIMITED": "UNKNOWN_ERROR",  # too many submissions from this address
    "APP_FILE_UNAVAILABLE": "UNKNOWN_ERROR",  # processed without a data file
    "UNKNOWN_ERROR": "UNKNOWN_ERROR",
}
STEPS = {
    Status.QUEUED: "LOCKED",
    Status.DOWNLOADING: "DOWNLOADING",
    Status.ANALYZING: "ANALYZING",
    Status.PROCESSED: "PROCESSED",
}
APP_FILE_UNAVAILABLE = "APP_FILE_UNAVAILABLE"


def app_error_code(code: str | None) -> str | None:
    """The app's code for one of ours (None stays None)."""
    if code is None or code in APP_ERROR_CODES:
        return code
    return ERROR_CODES.get(code, "UNKNOWN_ERROR")


def queue_position(ahead: int = 0, total: int = 0) -> dict[str, int | None]:
    """The queue object, every key the app's types name (it reads `standardQueueUser`)."""
    return {
        "user": ahead,
        "total": total,
        "userWhenStarted": 0,
        "totalWhenStarted": 0,
        "standardQueueUser": ahead,
        "standardQueueTotal": total,
        "premiumQueueUser": 0,
        "premiumQueueTotal": 0,
        "standardWhenJoined": None,
        "premiumWhenJoined": None,
    }


def refusal_document(code: str, total: int = 0) -> dict:
    """A status document that only carries an error (401, 404): the app stops polling."""
    return {
        "isDataAvailable": False,
        "isUpgraded": False,
        "isProcessing": False,
        "isErrored": True,
        "errorMessageCode": app_error_code(code),
        "processingStep": None,
        "processingQueuePosition": queue_position(0, total),
    }


def file_problem(record: PackageRecord, app_file: AppFileRecord | None) -> str | None:
    """Why a PROCESSED package cannot be given to the app, or None when its file is there."""
    if record.status != Status.PROCESSED:
        return None
    if app_file is None:
        return APP_FILE_UNAVAILABLE
    return None if app_file.iv is not None else (app_file.error_code or APP_FILE_UNAVAILABLE)


def status_document(
    record: PackageRecord, app_file: AppFileRecord | None, ahead: int, total: int
) -> dict:
    """The app's status document of a package we own."""
    problem = file_problem(record, app_file)
    if record.status == Status.ERRORED or problem is not None:
        return refusal_document(problem or record.error_code or "UNKNOWN_ERROR", total)
    processed = record.status == Status.PROCESSED
    queued = record.status == Status.QUEUED
    return {
        "isDataAvailable": processed,
        "isUpgraded": False,
        "isProcessing": not processed,
        "isErrored": False,
        "errorMessageCode": None,
        "processingStep": STEPS[record.status],
        "processingQueuePosition": queue_position(ahead if queued else 0, total),
    }
