"""A worker's records carry the package id while a package task runs (Celery's task_prerun and
task_postrun signals, through Celery's own task tracer), and only then."""

from __future__ import annotations

import json
import logging

import pytest

import logconfig
from tasks import maintenance, packages
from tests.support.logging_state import restored_logging

PACKAGE_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def records(caplog):
    """The records made from now on, with the ids `logconfig` stamps on them."""
    with restored_logging():
        logconfig.install_context()
        caplog.set_level(logging.INFO)
        yield caplog  # its `records` are those of the test's own phase


def test_a_package_tasks_records_carry_its_package_id(store, records):
    packages.process_package.apply(args=[PACKAGE_ID], task_id=PACKAGE_ID)
    during = [r for r in records.records if r.name.startswith("tasks.")]
    assert during, "the task logged nothing"
    assert all(r.package_id == PACKAGE_ID for r in during)
    line = json.loads(logconfig.JsonFormatter().format(during[-1]))
    assert line["package_id"] == PACKAGE_ID and line["logger"].startswith("tasks.")
    logging.getLogger("tasks.after").info("between tasks")
    assert records.records[-1].package_id is None


def test_other_tasks_carry_no_package_id(store, records):
    maintenance.clean_temp_files.apply()
    logging.getLogger("tasks.maintenance").info("a sweep")
    assert records.records and all(r.package_id is None for r in records.records)


def test_a_failing_package_task_forgets_its_package_id(store, records, monkeypatch):

    def broken(*args, **kwargs):
        logging.getLogger("tasks.pipeline").error("about to fail")
        raise RuntimeError("broken")

    monkeypatch.setattr(packages, "run_package", broken)
    packages.process_package.apply(args=[PACKAGE_ID], task_id=PACKAGE_ID)
    failing = [r for r in records.records if r.getMessage() == "about to fail"]
    assert failing[0].package_id == PACKAGE_ID
    logging.getLogger("tasks.after").info("between tasks")
    assert records.records[-1].package_id is None
