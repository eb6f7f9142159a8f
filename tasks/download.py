"""Streamed package download with limits: size cap, timeouts, total deadline, checked redirects.

Redirects are followed by hand so each hop is checked: https (or an allow-listed origin), and a
host that resolves to a private, loopback, link-local or reserved address is refused unless its
origin is allow-listed. The connection then goes to the very address that was checked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from storage.links import origin_of

CHUNK_BYTES = 1 << 20
MAX_REDIRECTS = 5
USER_AGENT = "dumpus-stats/0.1 (+package download)"


class DownloadError(Exception):
    """A download that cannot succeed; `code` is the package's error code."""

    def __init__(self, code: str, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class DownloadLimits:
    """The limits of one download (from settings)."""

    max_bytes: int
    connect_timeout: float
    read_timeout: float
    max_seconds: float
    allowed_origins: tuple[str, ...] = ()


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DownloadError(
            "DOWNLOAD_FAILED", "the link's host does not resolve", retryable=True
        ) from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global, and so is any IPv4 address it wraps (mapped, 6to4, NAT64, Teredo)."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            embedded.append(address.teredo[1])
        if address in NAT64_PREFIX:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return all(inner.is_global for inner in embedded if inner is not None)
    return True


def check_hop(url: str, limits: DownloadLimits) -> str:
    """Refuse a URL the worker must not fetch; returns the checked address to connect to."""
    parts = urlsplit(url)
    allowed = origin_of(url) in limits.allowed_origins
    if not allowed and (parts.scheme != "https" or parts.username or parts.password):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL that is not allowed")
    if not parts.hostname:
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL without a host")
    addresses = _resolve(parts.hostname)
    if not addresses or not (allowed or all(_is_public(a) for a in addresses)):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a non-public address")
    return str(addresses[0])


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address `check_hop` checked, so DNS cannot change between check and use.

    The URL keeps its host name, so the Host header, TLS SNI and certificate checks still use it.
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.pins: dict[str, str] = {}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        pinned = self.pins.get(hostname)
        if pinned is None:
            raise DownloadError("DOWNLOAD_FAILED", "connection to an unchecked host refused")
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        host_params = {**host_params, "host": pinned}
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def _open(session: requests.Session, url: str, limits: DownloadLimits, on_hop) -> requests.Response:
    adapter = PinnedAddressAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        adapter.pins[parts.hostname] = check_hop(url, limits)
        response = session.get(
            url,
            stream=True,
            allow_redirects=False,
            # a zip needs no transfer decoding: byte counts then match Content-Length
            headers={"Host": parts.netloc.rpartition("@")[2], "Accept-Encoding": "identity"},
            timeout=(limits.connect_timeout, limits.read_timeout),
        )
        if not response.is_redirect:
            return response
        location = response.headers.get("Location", "")
        response.close()
        on_hop()  # a heartbeat between hops: each may take up to the timeouts
        url = urljoin(url, location)
    raise DownloadError("DOWNLOAD_FAILED", "too many redirects")


def _check_status(response: requests.Response) -> None:
    if 400 <= response.status_code < 500:
        raise DownloadError("EXPIRED_LINK", f"the link answered {response.status_code}")
    if response.status_code != 200:
        raise DownloadError(
            "DOWNLOAD_FAILED", f"the server answered {response.status_code}", retryable=True
        )


def _declared_length(response: requests.Response, limits: DownloadLimits) -> int | None:
    raw = response.headers.get("Content-Length", "")
    total = int(raw) if raw.isdigit() else None
    if total is not None and total > limits.max_bytes:
        raise DownloadError("TOO_LARGE", "the package is larger than the allowed size")
    return total


def download(
    url: str,
    dest: Path,
    limits: DownloadLimits,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Stream `url` into `dest`; returns the byte count. Raises DownloadError; dest is then gone."""
    deadline = time.monotonic() + limits.max_seconds
    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT
            response = _open(session, url, limits, lambda: on_progress and on_progress(0, None))
            with response:
                _check_status(response)
                total = _declared_length(response, limits)
                return _write_body(response, dest, limits, deadline, total, on_progress)
    except requests.RequestException as exc:
        dest.unlink(missing_ok=True)
        # from None: the library's message quotes the URL, and with it the link's secret
        raise DownloadError(
            "DOWNLOAD_FAILED", f"network error: {type(exc).__name__}", retryable=True
        ) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _write_body(response, dest, limits, deadline, total, on_progress) -> int:
    done = 0
    with open(dest, "wb") as fh:
        # read1 returns what has arrived, so a server dripping bytes meets the deadline check.
        while chunk := response.raw.read1(CHUNK_BYTES, decode_content=False):
            done += len(chunk)
            if done > limits.max_bytes:
                raise DownloadError("TOO_LARGE", "the package is larger than the allowed size")
            if time.monotonic() > deadline:
                raise DownloadError("DOWNLOAD_FAILED", "the download took too long")
            fh.write(chunk)
            if on_progress:
                on_progress(done, total)
    if total is not None and done != total:
        raise DownloadError("DOWNLOAD_FAILED", "the download ended early", retryable=True)
    return done
