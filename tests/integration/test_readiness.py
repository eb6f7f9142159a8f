"""Readiness against the real stack: gunicorn asks the embedded Redis and a real Celery worker."""

from __future__ import annotations

import time

import requests

ALL_OK = {"store": "ok", "broker": "ok", "secret": "ok", "workers": "ok"}


def test_readyz_sees_the_worker_consuming_the_packages_queue(stack):
    deadline = time.monotonic() + 60  # the worker may still be starting its remote control
    while True:
        response = requests.get(f"{stack.api_url}/readyz", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.json() == ALL_OK
    assert response.status_code == 200
    assert requests.get(f"{stack.api_url}/livez", timeout=10).json() == {"status": "ok"}
