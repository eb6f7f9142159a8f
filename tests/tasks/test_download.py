"""The download: limits, redirects and error codes, against a scripted server on 127.0.0.1."""

import pytest

from tasks.download import DownloadError, DownloadLimits, check_hop, download
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


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:10.0.0.1"])
def test_ipv6_addresses_wrapping_a_private_ipv4_are_not_public(address):
    import ipaddress

    from tasks.download import _is_public

    assert not _is_public(ipaddress.ip_address(address))


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
