"""Request ids: every answer carries `X-Request-ID` (the client's when it is a plain token, else a
new one), and every log record made while serving the request carries it, the access line
included, in JSON lines as `request_id`."""

from __future__ import annotations

import json
import logging
import os
import re

import pytest

import logconfig
from api.request_ids import new_request_id
from storage.crypto import package_id_for
from tests.api.api_support import bearer, discord_link, new_upn, sample_views
from tests.support.logging_state import restored_logging

PACKAGE_ID = "0123456789abcdef0123456789abcdef"


def test_an_answer_without_a_request_id_gets_a_new_one(client):
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_a_forked_process_draws_its_own_ids():
    """gunicorn forks its workers: the ids of two processes never share their random prefix."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child writes one new id and leaves at once
        os.write(write_end, new_request_id().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        childs = pipe.read()
    ours = new_request_id()
    assert re.fullmatch(r"[0-9a-f]{32}", childs) and childs[:16] != ours[:16]


def test_a_plain_request_id_is_echoed(client):
    answer = client.get("/health", headers={"X-Request-ID": "edge-42.a:b_C"})
    assert answer.headers["X-Request-ID"] == "edge-42.a:b_C"


@pytest.mark.parametrize(
    "given",
    ["", "x" * 65, "has space", "a/b", discord_link("AbCdef0123456789")],
    ids=["empty", "too long", "space", "slash", "a link"],
)
def test_anything_else_is_replaced(client, given):
    answer = client.get("/health", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


def test_answers_given_before_flask_get_one_too(client, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    answer = client.get(
        f"/api/data/{package_id}/about", headers={**bearer(upn), "X-Request-ID": "fast-1"}
    )
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "fast-1"


@pytest.fixture
def json_logs(settings, capsys):
    """Starts the test process logging as a JSON-configured API process would; returns a reader
    of the lines written since, as objects. (Configured in the test itself: its handler writes
    to the standard error of the moment, which pytest replaces for each phase.)"""
    with restored_logging():

        def start():
            logconfig.configure(settings.with_overrides(log_format="json"))
            capsys.readouterr()

            def lines() -> list[dict]:
                err = capsys.readouterr().err
                return [json.loads(line) for line in err.splitlines() if line]

            return lines

        yield start


def test_a_json_access_line_carries_the_request_id(client, json_logs):
    lines = json_logs()
    answer = client.get(f"/api/data/{PACKAGE_ID}/about", headers={"X-Request-ID": "req-7"})
    assert answer.status_code == 401
    access = [line for line in lines() if line["logger"] == "api.access"]
    assert access[-1]["request_id"] == "req-7"
    assert access[-1]["message"].startswith(f"GET /api/data/{PACKAGE_ID}/about 401 ")
    assert access[-1]["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access[-1]["time"])
    assert "package_id" not in access[-1]


def test_a_record_outside_any_request_has_no_request_id(client, json_logs):
    lines = json_logs()
    client.get("/health")
    assert lines()[-1]["request_id"]
    logging.getLogger("api.test").warning("between requests")
    (line,) = lines()
    assert line["message"] == "between requests" and "request_id" not in line
