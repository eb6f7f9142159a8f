"""Fixtures shared by the parser tests."""

import pytest

import parsers.activity.scan as scan


@pytest.fixture(params=["native", "python"])
def scan_loop(request, monkeypatch):
    """Run a test with the C loop of the activity scanner, then with its Python twin."""
    if request.param == "python":
        monkeypatch.setattr(scan, "_linescan", None)
    return request.param
