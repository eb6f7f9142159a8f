"""Tests that apply a process's logging configuration (`logconfig.configure`) in the test process
run inside `restored_logging`, so the root logger's handlers, its level and the record factory are
as they were for the tests after them (pytest's own capture handlers included)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    """Undo, on exit, what a logging configuration did to the root logger and record factory."""
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)
