"""Fixtures shared by the parser tests."""

import pytest

import parsers.activity.scan as scan
from parsers.activity.child import ActivityProcess


@pytest.fixture(params=["native", "python"])
def scan_loop(request, monkeypatch):
    """Run a test with the C loop of the activity scanner, then with its Python twin."""
    if request.param == "python":
        monkeypatch.setattr(scan, "_linescan", None)
    return request.param


@pytest.fixture
def started(monkeypatch):
    """Every activity process made from now on, whoever makes it."""
    made: list[ActivityProcess] = []
    real_init = ActivityProcess.__init__

    def init(self):
        real_init(self)
        made.append(self)

    monkeypatch.setattr(ActivityProcess, "__init__", init)
    return made
