"""One logging configuration for every process: the API (gunicorn), the Celery worker and beat,
and Flower.

`LOG_LEVEL` (DEBUG, INFO, WARNING, ERROR, CRITICAL; default INFO) and `LOG_FORMAT` (`text`, the
default, or `json`) choose the level of the root logger and the format of its one handler, on
standard error. A JSON line is one object:

    {"time": "2026-12-02T16:40:00.123Z", "level": "INFO", "logger": "api.access",
     "message": "GET /health 200 1.2ms", "request_id": "4f0c..."}

with `request_id` while the API serves a request (`api.request_ids`) and `package_id` while a
worker runs a package task (`tasks.celery_app`), and `exception` when there is one. Both ids are
read from context variables when a record is made (`install_context`), so a record written later
by another thread (the API's buffered access lines) keeps the ids of the request that made it.

Every process applies it once its own logging would be set up: gunicorn through `dict_config`
(`api.gunicorn_conf.logconfig_dict`), Celery through its `setup_logging` signal, Flower through
its launcher, and an app built outside gunicorn through `configure_unless_configured`. logsafe's
filter is on the handler in every case. A bad value stops the process with one line, as every
other setting does (`settings.load_or_exit`).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
import time
from typing import Any

import orjson

import logsafe
from settings import Settings

CONTEXT_FIELDS = ("request_id", "package_id")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
package_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("package_id", default=None)


@functools.lru_cache(maxsize=4)  # records come in time order: a second is formatted once
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def utc_time(record: logging.LogRecord) -> str:
    """The record's creation time, UTC, ISO 8601 with milliseconds: `2026-12-02T16:40:00.123Z`."""
    return f"{_utc_second(int(record.created))}.{int(record.msecs):03d}Z"


def _context(record: logging.LogRecord) -> dict[str, str]:
    """The ids stamped on the record (`install_context`), those that are known."""
    return {name: value for name in CONTEXT_FIELDS if (value := getattr(record, name, None))}


class TextFormatter(logging.Formatter):
    """`2026-12-02T16:40:00.123Z INFO api.access [request_id=4f0c...]: GET /health 200 1.2ms`."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (plus the traceback, if any, on the lines after it); the message ends it."""
        ids = " ".join([f"{name}={value}" for name, value in _context(record).items()])
        where = f"{record.name} [{ids}]" if ids else record.name
        line = f"{utc_time(record)} {record.levelname} {where}: {record.getMessage()}"
        if not (record.exc_info or record.exc_text or record.stack_info):
            return line  # every access line
        details = self._details(record)
        return f"{line}\n{details}" if details else line

    def _details(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text, record.stack_info and self.formatStack(record.stack_info)]
        return "\n".join(part for part in parts if part)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the known ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback is one escaped string)."""
        entry: dict[str, Any] = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}


def install_context() -> None:
    """Make every new record carry the current `request_id` and `package_id` (once a process).

    Records skip the thread and process names our formats never show (the `logging` module's
    own switches): about a third of the cost of making one, paid by every API access line.
    """
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    current = logging.getLogRecordFactory()
    if getattr(current, "stamps_context", False):
        return

    def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.request_id = request_id.get()
        record.package_id = package_id.get()
        return record

    stamped.stamps_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(stamped)


def handler(settings: Settings) -> logging.Handler:
    """The one handler: standard error, the chosen format, logsafe's filter."""
    made = logging.StreamHandler(sys.stderr)
    made.setFormatter(FORMATTERS[settings.log_format]())
    made.addFilter(logsafe.RedactLinks())
    return made


def configure(settings: Settings) -> None:
    """The root logger writes through our handler only, at LOG_LEVEL; logsafe on every handler."""
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler(settings))
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)  # Python's warnings (Celery's SecurityWarning) as records too
    install_context()
    logsafe.install()


def configure_unless_configured(settings: Settings) -> None:
    """`configure` in a process whose root logger has no handler yet (as `logging.basicConfig`).

    An app built by gunicorn finds its handler already there; `flask run` or a script does not.
    """
    install_context()
    if not logging.getLogger().handlers:
        configure(settings)


def dict_config(settings: Settings) -> dict[str, Any]:
    """The same configuration for `logging.config.dictConfig` (gunicorn's `logconfig_dict`).

    gunicorn's own loggers write through the root handler; its access log stays silent (the app
    writes its own, `api.accesslog`).
    """
    formatter = f"{__name__}.{FORMATTERS[settings.log_format].__name__}"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dumpus": {"()": formatter}},
        "filters": {"redact_links": {"()": "logsafe.RedactLinks"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "dumpus",
                "filters": ["redact_links"],
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": settings.log_level, "handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }
