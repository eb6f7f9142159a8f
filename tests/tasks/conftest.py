"""Tasks are tested by calling them directly with a real SQLite store (no broker, no eager mode)."""

import pytest

from parsers.activity.child import SPARE
from settings import Settings
from storage import open_store
from storage.crypto import PackageKey
from tasks import services


@pytest.fixture(autouse=True)
def _no_spare_left():
    """A package task keeps an activity process for the next package: none outlives a test."""
    yield
    SPARE.end()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", secret_key="tasks-test-secret")


@pytest.fixture
def store(settings):
    store = open_store(settings)
    services.use(settings, store)
    yield store
    services.use(None, None)
    store.close()


@pytest.fixture
def sent(monkeypatch):
    """Records what the sweepers send instead of reaching a broker."""
    from tasks.celery_app import app

    calls = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: calls.append((name, kw)))
    return calls


@pytest.fixture
def sealed_here(monkeypatch):
    """Counts the views this process compresses (and seals) itself."""
    calls = []
    seal_json = PackageKey.seal_json

    def counted(key, name, text):
        calls.append(name)
        return seal_json(key, name, text)

    monkeypatch.setattr(PackageKey, "seal_json", counted)
    return calls
