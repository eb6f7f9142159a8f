"""`TRUSTED_PROXIES`: X-Forwarded-For/-Proto/-Host are believed from a listed proxy only, for
the rate limits (Flask's and the fast read path's), `request.remote_addr` and the URLs built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api import create_app
from api.proxies import ForwardedClient, TrustedProxies, parse_address
from api.read_path import ReadPath
from api.request_ids import RequestIds
from settings import InvalidSettings, Settings
from storage.crypto import package_id_for
from tests.api.api_support import (
    TEST_CONFIG,
    bearer,
    discord_link,
    new_upn,
    record_responses,
    sample_views,
)
from tests.api.dumpus_app_support import app_headers, with_app_file

PROXY = "10.0.0.5"
STRANGER = "192.0.2.50"  # not a proxy: reaches the API directly
CLIENT_A, CLIENT_B = "198.51.100.1", "198.51.100.2"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_app(settings, store, queue):
    """An app of its own (2 submissions, 3 reads a minute), trusting `trusted`."""

    def make(*trusted: str):
        limited = settings.with_overrides(
            rate_limit_submit="2/minute", rate_limit_read="3/minute", trusted_proxies=trusted
        )
        return create_app(TEST_CONFIG, settings=limited, store=store, queue=queue)

    return make


@pytest.fixture
def build(make_app, responses):
    """A client of `make_app(*trusted)` whose answers go to the leak check."""

    def make(*trusted: str):
        app = make_app(*trusted)
        record_responses(app, responses)
        return app.test_client()

    return make


def via(peer: str, forwarded_for: str | None = None, **headers: str) -> dict:
    """Request arguments of a connection from `peer` carrying these forwarding headers."""
    fields = {f"X-Forwarded-{name.title()}": value for name, value in headers.items()}
    if forwarded_for is not None:
        fields["X-Forwarded-For"] = forwarded_for
    return {"environ_base": {"REMOTE_ADDR": peer}, "headers": fields}


def submit(client, arguments: dict) -> int:
    link = discord_link(new_upn())
    return client.post("/api/process", json={"package_link": link}, **arguments).status_code


def test_by_default_a_spoofed_forwarded_for_is_ignored(build):
    client = build()
    assert submit(client, via(STRANGER, CLIENT_A)) == 202
    assert submit(client, via(STRANGER, CLIENT_B)) == 202
    assert submit(client, via(STRANGER, "203.0.113.77")) == 429  # one budget: the peer's


def test_by_default_no_proxy_layer_wraps_the_app(make_app):
    assert isinstance(make_app().wsgi_app, RequestIds)


def test_with_proxies_every_other_layer_is_behind_the_middleware(make_app):
    outer = make_app(PROXY).wsgi_app
    assert isinstance(outer, ForwardedClient) and isinstance(outer.wsgi_app, RequestIds)
    assert isinstance(outer.wsgi_app.wsgi_app, ReadPath)


def test_a_trusted_proxy_gives_each_client_its_own_budget(build):
    client = build("10.0.0.0/24")
    assert [submit(client, via(PROXY, CLIENT_A)) for _ in range(3)] == [202, 202, 429]
    assert submit(client, via(PROXY, CLIENT_B)) == 202


def test_a_peer_outside_the_list_is_not_believed(build):
    client = build("10.0.0.0/24")
    assert submit(client, via(STRANGER, CLIENT_A)) == 202
    assert submit(client, via(STRANGER, CLIENT_B)) == 202
    assert submit(client, via(STRANGER, "203.0.113.77")) == 429


def test_what_a_client_writes_left_of_the_proxys_entry_is_not_believed(build):
    client = build(PROXY)
    # The proxy appends the address it saw; a client may have sent any X-Forwarded-For before.
    statuses = [submit(client, via(PROXY, f"203.0.113.{n}, {CLIENT_A}")) for n in range(3)]
    assert statuses == [202, 202, 429]


def test_the_fast_read_path_counts_the_forwarded_client(build, packages):
    upn = new_upn()
    package_id = packages.processed(upn, sample_views(package_id_for(upn)))
    client = build(PROXY)
    path, owner = f"/api/data/{package_id}/overview", bearer(upn)

    def read(address: str) -> int:
        arguments = via(PROXY, address)
        arguments["headers"].update(owner)
        return client.get(path, **arguments).status_code

    assert [read(CLIENT_A) for _ in range(4)] == [200, 200, 200, 429]
    assert read(CLIENT_B) == 200


def test_flask_sees_the_client_address_scheme_and_host(settings, store, queue):
    app = create_app(
        TEST_CONFIG,
        settings=settings.with_overrides(trusted_proxies=("10.0.0.0/24",)),
        store=store,
        queue=queue,
    )
    seen: dict[str, str] = {}

    @app.before_request
    def record() -> None:
        from flask import request

        seen.update(addr=request.remote_addr or "", url=request.url_root)

    client = app.test_client()
    client.get("/health", **via(PROXY, CLIENT_A, proto="https", host="stats.example.org"))
    assert seen == {"addr": CLIENT_A, "url": "https://stats.example.org/"}
    client.get("/health", **via(STRANGER, CLIENT_A, proto="https", host="stats.example.org"))
    assert seen == {"addr": STRANGER, "url": "http://localhost/"}


def test_a_signed_download_url_has_the_proxys_scheme_and_host(build, packages, store):
    upn = new_upn()
    package_id = with_app_file(packages, store, upn)[0]
    client = build(PROXY)
    arguments = via(PROXY, CLIENT_A, proto="https", host="stats.example.org:8443")
    arguments["headers"].update(app_headers(upn))
    url = client.get(f"/dumpus/process/{package_id}/blob", **arguments).get_json()["url"]
    assert url.startswith(f"https://stats.example.org:8443/dumpus/blob/{package_id}/1/")
    arguments = via(STRANGER, CLIENT_A, proto="https", host="stats.example.org")
    arguments["headers"].update(app_headers(upn))
    url = client.get(f"/dumpus/process/{package_id}/blob", **arguments).get_json()["url"]
    assert url.startswith(f"http://localhost/dumpus/blob/{package_id}/1/")


@pytest.mark.parametrize(
    ("proto", "host"),
    [("ftp", "evil.example/path"), ("https, javascript", "a b"), ("", "host@evil.example")],
)
def test_a_malformed_scheme_or_host_from_a_trusted_proxy_is_ignored(build, proto, host):
    client = build(PROXY)
    response = client.get("/openapi/openapi.json", **via(PROXY, CLIENT_A, proto=proto, host=host))
    assert response.status_code == 200
    environ = response.request.environ
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["HTTP_HOST"] == "localhost"


def test_the_client_is_the_rightmost_address_that_is_no_trusted_proxy():
    proxies = TrustedProxies(["10.0.0.0/8", "2001:db8::/32"])
    assert proxies.client(PROXY, f"{CLIENT_A}, 10.1.1.1, 10.2.2.2") == CLIENT_A
    assert proxies.client(PROXY, "10.1.1.1, 10.2.2.2") == "10.1.1.1"  # only proxies: the first
    assert proxies.client(PROXY, f"{CLIENT_A}, not-an-address, 10.2.2.2") == "10.2.2.2"
    assert proxies.client(PROXY, "garbage") == PROXY
    assert proxies.client(PROXY, f"[2001:db9::1]:443, {CLIENT_B}:5678") == CLIENT_B
    assert proxies.client(PROXY, "2001:db9::1, [2001:db8::7]:80") == "2001:db9::1"


def test_addresses_in_every_spelling_a_proxy_writes():
    assert str(parse_address("198.51.100.1:5678")) == "198.51.100.1"
    assert str(parse_address("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_address("::ffff:10.0.0.5")) == "10.0.0.5"  # a dual-stack socket's IPv4 peer
    assert parse_address("unknown") is None and parse_address("") is None


def test_an_ipv4_mapped_peer_is_a_trusted_ipv4_proxy():
    assert TrustedProxies(["10.0.0.0/24"]).trusts("::ffff:10.0.0.5")


def test_a_unix_socket_peer_is_trusted_only_when_listed():
    assert TrustedProxies(["unix"]).trusts("")
    assert not TrustedProxies(["10.0.0.0/8"]).trusts("")
    assert not TrustedProxies([])


@pytest.mark.parametrize("entry", ["1", "10.0.0.1/8", "proxy.example", "*", "10.0.0.300"])
def test_a_bad_entry_is_refused_with_its_name(entry, settings):
    with pytest.raises(InvalidSettings, match=r"^invalid TRUSTED_PROXIES=") as refused:
        settings.with_overrides(trusted_proxies=("10.0.0.5", entry))
    assert repr(entry) in str(refused.value)


def test_the_setting_is_a_comma_list():
    settings = Settings.from_env({"TRUSTED_PROXIES": " 10.0.0.5 , unix,,2001:db8::/32 "})
    assert settings.trusted_proxies == ("10.0.0.5", "unix", "2001:db8::/32")
    assert Settings.from_env({}).trusted_proxies == ()


def test_gunicorn_stops_on_a_bad_value_with_one_line(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.5,1", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf"]
    command += ["--bind", "127.0.0.1:0", "api:create_app()"]
    done = subprocess.run(
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "dumpus: invalid TRUSTED_PROXIES='10.0.0.5,1': '1' looks like a hop count; list the "
        "proxies' addresses or networks instead (for example 10.0.0.5,10.1.0.0/16) (accepts "
        "comma-separated proxy addresses or networks (CIDR), or unix)"
    ]
