"""The API under a real gunicorn: what reaches its log file and what its refusals look like.

Every request here carries a Discord-shaped link or Discord ids, spelled in ways that slipped past
the old access-log regex. After each, the log is read until the app's access line (or the line of
a refusal by gunicorn) for it appears, then searched for the secret. Only the embedded broker and
the API run (no worker): accepted links stay queued, nothing is downloaded.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from launchers.devstack import LocalStack
from tests.support.api_log import ApiLog

UPN_ALPHABET = string.ascii_letters + string.digits + "._-"
PACKAGE_ID = "0123456789abcdef0123456789abcdef"
DISCORD_ID = "112233445566778899"


def discord_upn(length: int, seed: int) -> str:
    """A UPN of that length drawn from Discord's alphabet."""
    rng = random.Random(seed)
    return "".join(rng.choice(UPN_ALPHABET) for _ in range(length))


def discord_link(upn: str) -> str:
    """A Discord package link carrying that UPN."""
    return f"https://click.discord.com/ls/click?upn={upn}"


def encoded(link: str) -> str:
    """The link percent-encoded as a path segment (what the Dumpus app sends)."""
    return quote(link, safe="")


@dataclass
class Answer:
    """A raw HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        """The body as JSON."""
        return json.loads(self.body)


class Api:
    """The running API: raw requests over a socket and its log."""

    def __init__(self, stack: LocalStack):
        self.port = stack.api_port
        self.log = ApiLog(stack.log_path("api"))

    def raw(self, request: bytes) -> Answer:
        """Send bytes as they are, read the answer until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(request)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return Answer(int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body)

    def request(
        self, line: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        """One request on its own connection (`Connection: close`)."""
        fields = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
        if body and "Transfer-Encoding" not in fields:
            fields["Content-Length"] = str(len(body))
        head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        return self.raw(f"{line}\r\n{head}\r\n".encode("latin-1") + body)


@pytest.fixture(scope="module")
def api():
    root = Path(tempfile.mkdtemp(prefix="dmg-"))  # short: the broker's Unix socket lives here
    env = {
        "SECRET_KEY": "gunicorn-surface-secret",
        "RATE_LIMIT_SUBMIT": "100000/minute",
        "RATE_LIMIT_READ": "100000/minute",
    }
    with LocalStack(root / "data", env) as stack:
        stack.data_dir.mkdir(parents=True)
        stack.start_broker()
        stack.start_api()
        yield Api(stack)
    shutil.rmtree(root, ignore_errors=True)


def assert_no_link(log: str, upn: str) -> None:
    """Neither the UPN (in any slice) nor the link's markers, in any case or encoding."""
    lowered = log.lower()
    for start in range(0, len(upn) - 40, 200):
        assert upn[start : start + 40] not in log, "a slice of the UPN is in the log"
    for marker in ("upn=", "upn%3d", "click.discord.com", "click%2ediscord", "discord.com"):
        assert marker not in lowered, f"{marker!r} is in the log"


def assert_json_error(answer: Answer, status: int, code: str) -> None:
    """The project's error shape, as JSON, with that status and code."""
    assert answer.status == status, answer.body[:300]
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    assert answer.json()["error"]["code"] == code
    assert set(answer.json()["error"]) == {"code", "message"}


# -- the link never reaches the log ---------------------------------------------------------------

SUBMIT_SPELLINGS = {
    "path form": ("/api/process/{link}", 202, "/api/process/<package_link>"),
    "percent-encoded p": ("/api/%70rocess/{link}", 202, "/api/process/<package_link>"),
    "encoded slashes": ("/api%2Fprocess%2F{link}", 202, "/api/process/<package_link>"),
    "double slash": ("/api//process/{link}", 404, "<unmatched>"),
    "absolute form": ("{raw}", 404, "<unmatched>"),
}


@pytest.mark.parametrize("spelling", SUBMIT_SPELLINGS, ids=list(SUBMIT_SPELLINGS))
def test_a_path_form_link_never_reaches_the_log(api, spelling):
    path, status, template = SUBMIT_SPELLINGS[spelling]
    upn = discord_upn(600 + len(spelling) * 50, seed=len(spelling))
    since = api.log.offset()
    link = discord_link(upn)
    answer = api.request(f"POST {path.format(link=encoded(link), raw=link)} HTTP/1.1")
    assert answer.status == status, answer.body
    log = api.log.wait_for(rf"POST {re.escape(template)} {status} ", since)
    assert_no_link(log, upn)


@pytest.mark.parametrize(
    "line",
    ["POST /api/process/{link}", "POST /api/process/{link} HTTP/1.1 extra", "POST /{ctl} HTTP/1.1"],
    ids=["no version", "trailing token", "control character"],
)
def test_a_malformed_request_line_is_json_and_never_logged(api, line):
    upn = discord_upn(900, seed=len(line))
    link = discord_link(upn)
    since = api.log.offset()
    answer = api.request(line.format(link=link, ctl=link.replace("?", "\x01")))
    assert_json_error(answer, 400, "MALFORMED_REQUEST_LINE")
    assert b"discord" not in answer.body and upn[:40].encode() not in answer.body
    log = api.log.wait_for(r"- <unparsed> 400 ", since)
    assert_no_link(log, upn)


def test_a_referer_holding_a_link_is_not_logged(api):
    upn = discord_upn(700, seed=7)
    since = api.log.offset()
    answer = api.request("GET /health HTTP/1.1", {"Referer": discord_link(upn)})
    assert answer.status == 200
    assert_no_link(api.log.wait_for(r"GET /health 200 ", since), upn)


def test_a_link_in_a_query_string_is_not_logged(api):
    upn = discord_upn(650, seed=8)
    since = api.log.offset()
    answer = api.request(f"GET /health?next={encoded(discord_link(upn))} HTTP/1.1")
    assert answer.status == 200
    assert_no_link(api.log.wait_for(r"GET /health 200 ", since), upn)


# -- Discord ids never sit next to a package id ---------------------------------------------------

DATA_ROUTES = {
    "user": ("/user/{id}", "/user/<user_id>"),
    "dm": ("/dm/{id}/stats/lifetime", "/dm/<user_id>/stats/<period>"),
    "guild": ("/guild/{id}/stats/lifetime", "/guild/<guild_id>/stats/<period>"),
    "channel": ("/channel/{id}/stats/lifetime", "/channel/<channel_id>/stats/<period>"),
}


@pytest.mark.parametrize("route", DATA_ROUTES, ids=list(DATA_ROUTES))
def test_data_routes_log_their_template_and_no_discord_id(api, route):
    path, template = DATA_ROUTES[route]
    discord_id = str(100000000000000000 + len(route) * 7919)
    since = api.log.offset()
    answer = api.request(f"GET /api/data/{PACKAGE_ID}{path.format(id=discord_id)} HTTP/1.1")
    assert answer.status == 401
    line = rf"GET /api/data/{PACKAGE_ID}{re.escape(template)} 401 \d+\.\dms$"
    log = api.log.wait_for(line, since)
    assert discord_id not in log


# -- gunicorn's limits fit the longest valid UPN; its refusals are JSON ---------------------------


def test_the_longest_upn_is_accepted_in_the_path_form_and_as_a_bearer(api):
    upn = discord_upn(8192, seed=8192)
    line = f"POST /api/process/{encoded(discord_link(upn))} HTTP/1.1"
    assert len(line) > 8190  # gunicorn's largest request line, whatever limit_request_line says
    since = api.log.offset()
    answer = api.request(line)
    assert answer.status == 202, answer.body[:300]
    package_id = answer.json()["packageId"]
    status = api.request(
        f"GET /api/process/{package_id}/status HTTP/1.1", {"Authorization": f"Bearer {upn}"}
    )
    assert status.status == 200, status.body[:300]
    assert status.json()["isProcessing"] is True
    log = api.log.wait_for(rf"GET /api/process/{package_id}/status 200 ", since)
    assert_no_link(log, upn)


def test_a_request_line_over_the_cap_is_a_json_414_that_echoes_nothing(api):
    upn = discord_upn(8192, seed=1)
    link = encoded(discord_link(upn)) + "%41" * 3000  # over 16 KiB once encoded
    since = api.log.offset()
    answer = api.request(f"POST /api/process/{link} HTTP/1.1")
    assert_json_error(answer, 414, "URI_TOO_LONG")
    assert upn[:40].encode() not in answer.body
    assert_no_link(api.log.wait_for(r"- <unparsed> 414 ", since), upn)


def test_a_header_over_the_cap_is_a_json_431(api):
    upn = discord_upn(8192, seed=2)
    since = api.log.offset()
    answer = api.request("GET /health HTTP/1.1", {"Authorization": f"Bearer {upn * 3}"})
    assert_json_error(answer, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE")
    assert_no_link(api.log.wait_for(r"- <unparsed> 431 ", since), upn)


def test_a_chunked_body_over_the_cap_is_413_not_an_invalid_link(api):
    upn = discord_upn(8192, seed=3)
    document = json.dumps({"package_link": discord_link(upn), "pad": "x" * 70_000}).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (document[i : i + 8192] for i in range(0, len(document), 8192))
    )
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    since = api.log.offset()
    answer = api.request("POST /api/process HTTP/1.1", headers, chunks + b"0\r\n\r\n")
    assert_json_error(answer, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert_no_link(api.log.wait_for(r"POST /api/process 413 ", since), upn)


def test_a_malformed_chunk_is_a_json_400_not_a_500(api):
    upn = discord_upn(600, seed=4)
    body = b"zz" + discord_link(upn).encode() + b"\r\n{}\r\n0\r\n\r\n"
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    since = api.log.offset()
    answer = api.request("POST /api/process HTTP/1.1", headers, body)
    assert_json_error(answer, 400, "BAD_REQUEST")
    assert_no_link(api.log.wait_for(r"POST /api/process 400 ", since), upn)


@pytest.mark.parametrize(
    "path",
    [
        "/api/data/..%2F/about",
        f"/api/data/{PACKAGE_ID}/%2Fabout",
        f"/api/data/{PACKAGE_ID}//user/1",
    ],
)
def test_a_path_werkzeug_would_redirect_is_a_json_404(api, path):
    answer = api.request(f"GET {path} HTTP/1.1")
    assert_json_error(answer, 404, "NOT_FOUND")
    assert "location" not in answer.headers
