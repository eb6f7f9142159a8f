"""Tests that apply a process's logging configuration (`logconfig.configure`, or its dictConfig
form) in the test process run inside `restored_logging`, so the loggers it changes, their
handlers and levels, and the record factory are as they were for the tests after them (pytest's
own capture handlers included)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

# The loggers a configuration sets besides the root (`logconfig.dict_config`).
CONFIGURED = ("", "gunicorn.error", "gunicorn.access")


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    """Undo, on exit, what a logging configuration did to its loggers and the record factory."""
    loggers = [logging.getLogger(name) for name in CONFIGURED]
    saved = [(list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers]
    factory = logging.getLogRecordFactory()
    try:
        yield
    finally:
        for logger, (handlers, level, propagate, disabled) in zip(loggers, saved, strict=True):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled
        logging.setLogRecordFactory(factory)
