"""Fixtures of the API tests: a fresh app per test on a real SQLite store and a recording queue."""

from __future__ import annotations

import pytest
from api_support import ALLOWED_ORIGIN, Packages, RecordingQueue

from api import create_app
from settings import Settings
from storage import open_store


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path, secret_key="test-secret", whitelisted_origins=(ALLOWED_ORIGIN,)
    )


@pytest.fixture
def store(settings):
    store = open_store(settings)
    yield store
    store.close()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def app(settings, store, queue):
    return create_app({"TESTING": True}, settings=settings, store=store, queue=queue)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def packages(store, settings) -> Packages:
    return Packages(store, settings)
