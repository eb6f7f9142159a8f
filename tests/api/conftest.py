"""Fixtures of the API tests: a fresh app per test on a real SQLite store and a recording queue.

Every response of every test is checked for the UPNs the test issued: no answer may carry a link
or a UPN (the package id, md5 of the UPN, is what the API answers with).
"""

from __future__ import annotations

import time

import pytest

from api import create_app
from settings import Settings
from storage import open_store
from tests.api.api_support import (
    ALLOWED_ORIGIN,
    GENEROUS_LIMIT,
    ISSUED_UPNS,
    TEST_CONFIG,
    Packages,
    RecordingQueue,
    record_responses,
)
from tests.api.store_support import store_headers


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Limits no test reaches by accident; tests/api/test_api_ratelimit.py sets low ones.
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        whitelisted_origins=(ALLOWED_ORIGIN,),
        rate_limit_submit=GENEROUS_LIMIT,
        rate_limit_read=GENEROUS_LIMIT,
        audit_enabled=False,  # tests/api/test_api_usage.py turns it on
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
def responses() -> list[bytes]:
    """Every response (headers and body) the test's app gave."""
    return []


@pytest.fixture
def app(settings, store, queue, responses):
    app = create_app(TEST_CONFIG, settings=settings, store=store, queue=queue)
    record_responses(app, responses)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def packages(store, settings) -> Packages:
    return Packages(store, settings)


@pytest.fixture(autouse=True)
def no_response_leaks_a_upn(responses):
    """After each test: no response contained a UPN (nor, therefore, a link) of the test."""
    ISSUED_UPNS.clear()
    yield
    for upn in ISSUED_UPNS:
        probe = upn[:40].encode()
        assert not any(probe in response for response in responses), "a response leaked a UPN"


@pytest.fixture
def acme(store):
    """An organization for the store tests."""
    return store.identity.organizations.create("Acme", time.time())


@pytest.fixture
def shop(client, store, acme):
    """A store of `acme`: (its id, its token's headers)."""
    return store_headers(client, store, acme)
