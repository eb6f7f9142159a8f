"""The download: limits, redirects and error codes, against a scripted server on 127.0.0.1."""

import ipaddress
import socket

import pytest
import requests
import urllib3.util.connection

from tasks.download import (
    DownloadError,
    DownloadLimits,
    PinnedAddressAdapter,
    _is_public,
    check_hop,
    download,
)
from tests.support.httpserver import ScriptedServer, body, drip, lying_length, redirect


def limits(origin: str, **changes) -> DownloadLimits:
    values = {
        "max_bytes": 1_000_000,
        "connect_timeout": 2,
        "read_timeout": 2,
        "max_seconds": 10,
        "allowed_origins": (origin,),
    }
    values.update(changes)
    return DownloadLimits(**values)


def test_streams_the_body_to_disk_and_reports_progress(tmp_path):
    data = b"x" * 3_000_000
    seen = []
    with ScriptedServer({"/p.zip": body(data)}) as srv:
        size = download(
            f"{srv.origin}/p.zip",
            tmp_path / "p.zip",
            limits(srv.origin, max_bytes=10_000_000),
            lambda done, total: seen.append((done, total)),
        )
    assert size == len(data)
    assert (tmp_path / "p.zip").read_bytes() == data
    assert seen[-1] == (len(data), len(data))


def test_follows_redirects_and_rechecks_each_hop(tmp_path):
    routes = {"/a": redirect("/b"), "/b": redirect("/p.zip"), "/p.zip": body(b"zip")}
    with ScriptedServer(routes) as srv:
        download(f"{srv.origin}/a", tmp_path / "p.zip", limits(srv.origin))
        assert srv.hits == ["/a", "/b", "/p.zip"]


def test_too_many_redirects_fail(tmp_path):
    routes = {f"/r{i}": redirect(f"/r{i + 1}") for i in range(10)}
    with ScriptedServer(routes) as srv, pytest.raises(DownloadError) as err:
        download(f"{srv.origin}/r0", tmp_path / "p.zip", limits(srv.origin))
    assert err.value.code == "DOWNLOAD_FAILED"


def test_redirect_to_a_loopback_origin_not_allowed_is_refused(tmp_path):
    other_origin = "http://127.0.0.1:9"
    with (
        ScriptedServer({"/a": redirect(f"{other_origin}/x")}) as srv,
        pytest.raises(DownloadError) as err,
    ):
        download(f"{srv.origin}/a", tmp_path / "p.zip", limits(srv.origin))
    assert err.value.code == "DOWNLOAD_FAILED"
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x",
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "https://2130706433/x",
        "https://0x7f.0.0.1/x",
        "https://0177.0.0.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::7f00:1]/x",
        "https://[fec0::1]/x",
        "https://224.0.0.1/x",
        "https://127.0.0.1\\.x.example.com/x",
        "http://user:pw@127.0.0.1:1/x",  # credentials, even on an allowed origin
    ],
)
def test_check_hop_refuses_non_public_or_non_https(url):
    with pytest.raises(DownloadError):
        check_hop(url, limits("http://127.0.0.1:1"))


def test_client_error_means_expired_link(tmp_path):
    with (
        ScriptedServer({"/gone": body(b"no", status=403)}) as srv,
        pytest.raises(DownloadError) as err,
    ):
        download(f"{srv.origin}/gone", tmp_path / "p.zip", limits(srv.origin))
    assert err.value.code == "EXPIRED_LINK"
    assert not err.value.retryable


def test_server_error_is_retryable(tmp_path):
    with (
        ScriptedServer({"/p": body(b"oops", status=503)}) as srv,
        pytest.raises(DownloadError) as err,
    ):
        download(f"{srv.origin}/p", tmp_path / "p.zip", limits(srv.origin))
    assert err.value.code == "DOWNLOAD_FAILED"
    assert err.value.retryable


def test_declared_length_over_cap_is_refused_before_the_body(tmp_path):
    with ScriptedServer({"/big": lying_length(10_000)}) as srv, pytest.raises(DownloadError) as err:
        download(f"{srv.origin}/big", tmp_path / "p.zip", limits(srv.origin, max_bytes=100))
    assert err.value.code == "TOO_LARGE"
    assert not (tmp_path / "p.zip").exists()


def test_body_without_length_is_cut_at_the_cap(tmp_path):
    data = b"y" * 5_000_000
    with (
        ScriptedServer({"/big": body(data, length=False)}) as srv,
        pytest.raises(DownloadError) as err,
    ):
        download(f"{srv.origin}/big", tmp_path / "p.zip", limits(srv.origin, max_bytes=2_000_000))
    assert err.value.code == "TOO_LARGE"
    assert not (tmp_path / "p.zip").exists()


def test_unreachable_server_is_a_retryable_download_failure(tmp_path):
    origin = "http://127.0.0.1:9"
    with pytest.raises(DownloadError) as err:
        download(f"{origin}/p.zip", tmp_path / "p.zip", limits(origin))
    assert err.value.code == "DOWNLOAD_FAILED"
    assert err.value.retryable


def test_a_server_dripping_bytes_is_stopped_by_the_total_deadline(tmp_path):
    with ScriptedServer({"/slow": drip(0.05, 400)}) as srv, pytest.raises(DownloadError) as err:
        download(f"{srv.origin}/slow", tmp_path / "p.zip", limits(srv.origin, max_seconds=1))
    assert err.value.code == "DOWNLOAD_FAILED"
    assert "too long" in str(err.value)
    assert not (tmp_path / "p.zip").exists()


def test_the_connection_goes_to_the_checked_address_even_if_dns_changes(tmp_path, monkeypatch):
    """DNS rebinding: the name answers 127.0.0.1 when checked, then another address."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host, *args, **kwargs):
        if host == "pkg.test":
            address = next(answers, "127.0.0.2")  # nothing listens there: a leak would fail
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with ScriptedServer({"/p.zip": body(b"zip-bytes")}) as srv:
        port = srv.origin.rsplit(":", 1)[1]
        origin = f"http://pkg.test:{port}"
        download(f"{origin}/p.zip", tmp_path / "p.zip", limits(origin))
    assert (tmp_path / "p.zip").read_bytes() == b"zip-bytes"


def test_check_hop_returns_the_checked_address():
    assert check_hop("http://127.0.0.1:9/x", limits("http://127.0.0.1:9")) == "127.0.0.1"


NOT_PUBLIC = [
    "::7f00:1",  # IPv4-compatible (deprecated), wrapping 127.0.0.1
    "::10.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible, even around a public IPv4
    "::ffff:0:10.0.0.1",  # IPv4-translated
    "::ffff:0:8.8.8.8",  # IPv4-translated, even around a public IPv4
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:8.8.8.8",  # IPv4-mapped, even around a public IPv4
    "fec0::1",  # site-local (deprecated)
    "64:ff9b:1::808:808",  # local-use NAT64 prefix
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix
    "64:ff9b::a9fe:a9fe",  # well-known NAT64 around 169.254.169.254
    "64:ff9b::a00:1",  # well-known NAT64 around 10.0.0.1
    "64:ff9b::1:808:808",  # next to the well-known NAT64 /96, not inside it
    "ff0e::1",  # multicast
    "fd00::1",  # unique local
    "fe80::1",  # link-local
    "::1",  # loopback
    "::",  # unspecified
    "100::1",  # discard-only
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
    "2002:a00:1::1",  # 6to4 around 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "100.64.0.1",  # shared address space
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "239.255.255.250",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_only_global_unicast_addresses_are_public(address):
    assert not _is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_global_unicast_and_well_known_nat64_of_a_public_ipv4_are_public(address):
    assert _is_public(ipaddress.ip_address(address))


def resolving(monkeypatch, address: str) -> None:
    """Makes every name under example.com resolve to `address` (nothing leaves the machine)."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if str(host).endswith("example.com"):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("address", ["::7f00:1", "::ffff:0:10.0.0.1", "fec0::1", "224.0.0.1"])
def test_check_hop_refuses_a_name_resolving_to_a_non_global_address(monkeypatch, address):
    resolving(monkeypatch, address)
    with pytest.raises(DownloadError) as err:
        check_hop("https://pkg.example.com/p.zip", limits("http://127.0.0.1:1"))
    assert err.value.code == "DOWNLOAD_FAILED"


def test_check_hop_accepts_the_well_known_nat64_of_a_public_ipv4(monkeypatch):
    resolving(monkeypatch, "64:ff9b::808:808")
    assert check_hop("https://pkg.example.com/p.zip", limits("http://127.0.0.1:1")) == (
        "64:ff9b::808:808"
    )


def test_an_unreadable_allowed_origin_matches_nothing_and_breaks_nothing(monkeypatch):
    resolving(monkeypatch, "8.8.8.8")
    broken = limits("http://[bad", allowed_origins=("http://[bad", "http://a:99999"))
    assert check_hop("https://pkg.example.com/p.zip", broken) == "8.8.8.8"
    with pytest.raises(DownloadError):
        check_hop("http://pkg.example.com/p.zip", broken)


@pytest.fixture
def connections(monkeypatch):
    """Records every (host, port) urllib3 connects to; only 127.0.0.1 is really reached."""
    real = urllib3.util.connection.create_connection
    seen = []

    def recording(address, *args, **kwargs):
        seen.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError("tests reach no other host")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return seen


@pytest.mark.parametrize(
    "location",
    [
        "https://127.0.0.1\\.x.example.com/p.zip",  # urlsplit: one host; urllib3: 127.0.0.1
        "https://pkg.exa\tmple.com/p.zip",  # urlsplit drops the tab
        "https://pkg.exa\x01mple.com/p.zip",
        "https://pkg.exa\x7fmple.com/p.zip",
        "https://pkg.example.com /p.zip",
        "https://user@pkg.example.com/p.zip",
        "https://user:pw@pkg.example.com/p.zip",
        "//user:pw@pkg.example.com/p.zip",
        "/p\\.zip",
    ],
)
def test_an_ambiguous_or_credentialed_location_is_refused_before_connecting(
    tmp_path, monkeypatch, connections, location
):
    resolving(monkeypatch, "93.184.215.14")
    with (
        ScriptedServer({"/a": redirect(location), "/p.zip": body(b"zip")}) as srv,
        pytest.raises(DownloadError) as err,
    ):
        download(f"{srv.origin}/a", tmp_path / "p.zip", limits(srv.origin))
    assert err.value.code == "DOWNLOAD_FAILED" and not err.value.retryable
    assert connections == [("127.0.0.1", int(srv.origin.rsplit(":", 1)[1]))]
    assert srv.hits == ["/a"]


def test_credentials_are_refused_on_an_allowed_origin_too(tmp_path):
    with ScriptedServer({"/p.zip": body(b"zip")}) as srv:
        origin = srv.origin.replace("http://", "http://user:pw@")
        with ScriptedServer({"/a": redirect(f"{origin}/p.zip")}) as first:
            allowed = limits(first.origin, allowed_origins=(first.origin, srv.origin))
            with pytest.raises(DownloadError) as err:
                download(f"{first.origin}/a", tmp_path / "p.zip", allowed)
        assert err.value.code == "DOWNLOAD_FAILED" and not err.value.retryable
        assert srv.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "https://pkg.example.com/x",
        "HTTPS://PKG.Example.COM:443/x",
        "https://pkg.example.com:/x",
        "https://bücher.example.com/x",
        "https://[2606:4700:4700::1111]/x",
        "https://pkg.example.com:8443/x",
        "http://pkg.example.com/x",
    ],
)
def test_the_checked_target_is_the_one_the_adapter_connects_to(url):
    adapter = PinnedAddressAdapter()
    prepared = requests.Session().prepare_request(requests.Request("GET", url))
    adapter.pin(prepared.url, "192.0.2.7")
    pool = adapter.get_connection_with_tls_context(prepared, True)
    assert pool.host == "192.0.2.7"


@pytest.mark.parametrize(
    "url",
    [
        "https://pkg.example.com:8443/x",  # another port
        "http://pkg.example.com:443/x",  # another scheme
        "https://other.example.com/x",  # another host
    ],
)
def test_a_connection_to_an_unchecked_scheme_host_or_port_is_refused(url):
    adapter = PinnedAddressAdapter()
    adapter.pin("https://pkg.example.com/x", "192.0.2.7")
    prepared = requests.Session().prepare_request(requests.Request("GET", url))
    with pytest.raises(DownloadError):
        adapter.get_connection_with_tls_context(prepared, True)


def test_a_network_error_does_not_chain_the_url(tmp_path):
    origin = "http://127.0.0.1:9"
    with pytest.raises(DownloadError) as err:
        download(f"{origin}/p.zip?upn=SECRET", tmp_path / "p.zip", limits(origin))
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "SECRET" not in str(err.value)


def test_a_gzip_encoded_body_is_stored_as_sent(tmp_path):
    import gzip

    packed = gzip.compress(b"zip bytes" * 1000)

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed)

    with ScriptedServer({"/p.zip": route}) as srv:
        size = download(f"{srv.origin}/p.zip", tmp_path / "p.zip", limits(srv.origin))
    assert size == len(packed)
