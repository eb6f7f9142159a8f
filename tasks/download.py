"""Streamed package download with limits: size cap, timeouts, total deadline, checked redirects.

Redirects are followed by hand so each hop is checked: https (or an allow-listed origin), no
credentials, and a host that resolves only to global unicast addresses unless its origin is
allow-listed. A URL that parsers may read differently (backslash, control character, space) is
refused. The check reads the URL as requests will send it, with urllib3's parser, and the
connection then goes to the very address checked, for that very (scheme, host, port).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from tasks.download_limits import BANDWIDTH_EXCEEDED, DownloadError, DownloadLimits

CHUNK_BYTES = 1 << 20
MAX_REDIRECTS = 5
USER_AGENT = "dumpus-stats/0.1 (+package download)"
DEFAULT_PORTS = {"http": 80, "https": 443}
# read differently by urlsplit, urllib3 and browsers: refused rather than guessed
AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DownloadError(
            "DOWNLOAD_FAILED", "the link's host does not resolve", retryable=True
        ) from None
    # sockaddr[0] is the address text for the TCP families asked (typeshed also allows an int)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# the well-known NAT64 prefix (RFC 6052), the one IPv6 range outside 2000::/3 that is allowed
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
REFUSED_IN_GLOBAL_UNICAST = (
    ipaddress.ip_network("3fff::/20"),  # documentation (RFC 9637), unknown to Python 3.11
)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast, and so is any IPv4 address it embeds (well-known NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global and not (address.is_multicast or address.is_reserved)
    if address in NAT64_PREFIX:
        return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address not in GLOBAL_UNICAST or not address.is_global:
        return False  # mapped, compatible, translated, ULA, link/site-local, multicast, ...
    if any(address in network for network in REFUSED_IN_GLOBAL_UNICAST):
        return False
    embedded = [address.sixtofour, *(address.teredo or ())]
    return all(_is_public(inner) for inner in embedded if inner is not None)


def _refuse_ambiguous(url: str) -> str:
    """Refuse a URL with a backslash, an ASCII control character or a space; returns it."""
    if AMBIGUOUS.search(url):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL that is not allowed")
    return url


def _parse(url: str) -> Url:
    """The URL as urllib3 (and so requests) reads it."""
    try:
        return parse_url(url)
    except LocationParseError:
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL that is not valid") from None


def _target(scheme: str | None, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    """The (scheme, host, port) a connection goes to, default port filled in, host unbracketed."""
    scheme = (scheme or "").lower()
    return scheme, (host or "").strip("[]"), port or DEFAULT_PORTS.get(scheme)


def target_of(url: str) -> tuple[str, str, int | None]:
    """The (scheme, host, port) urllib3 connects to for `url`."""
    parts = _parse(url)
    return _target(parts.scheme, parts.host, parts.port)


def _is_allowed(target: tuple[str, str, int | None], origins: tuple[str, ...]) -> bool:
    """Whether `target` is an allow-listed origin's; an unreadable origin matches nothing."""
    for origin in origins:
        with contextlib.suppress(DownloadError):
            if target_of(origin) == target:
                return True
    return False


def check_hop(url: str, limits: DownloadLimits) -> str:
    """Refuse a URL the worker must not fetch; returns the checked address to connect to."""
    _refuse_ambiguous(url)
    target = target_of(url)
    allowed = _is_allowed(target, limits.allowed_origins)
    if _parse(url).auth is not None or not (allowed or target[0] == "https"):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL that is not allowed")
    if not target[1]:
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL without a host")
    addresses = _resolve(target[1])
    if not addresses or not (allowed or all(_is_public(a) for a in addresses)):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a non-public address")
    return str(addresses[0])


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address `check_hop` checked, so DNS cannot change between check and use.

    Pins are keyed by (scheme, host, port): a connection to any other target is refused. The URL
    keeps its host name, so the Host header, TLS SNI and certificate checks still use it.
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.pins: dict[tuple[str, str, int | None], str] = {}

    def pin(self, url: str, address: str) -> None:
        """Let connections to `url`'s (scheme, host, port) go to `address`, and only there."""
        self.pins[target_of(url)] = address

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        pinned = self.pins.get(_target(host_params["scheme"], hostname, host_params["port"]))
        if pinned is None:
            raise DownloadError("DOWNLOAD_FAILED", "connection to an unchecked host refused")
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname, "assert_hostname": hostname}
        host_params = {**host_params, "host": pinned}
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def _prepare(session: requests.Session, url: str) -> requests.PreparedRequest:
    """The request for `url` as requests sends it (normalised, IDNA host), Host header set."""
    # a zip needs no transfer decoding: byte counts then match Content-Length
    request = requests.Request("GET", url, headers={"Accept-Encoding": "identity"})
    try:
        prepared = session.prepare_request(request)
    except (requests.RequestException, ValueError):
        raise DownloadError("DOWNLOAD_FAILED", "redirected to a URL that is not valid") from None
    assert prepared.url is not None  # prepare_request always sets it
    netloc = _parse(prepared.url).netloc
    assert netloc is not None  # prepare_request refuses a URL with no host (InvalidURL)
    # the connection goes to the pinned address: the Host header keeps the name
    prepared.headers["Host"] = netloc
    return prepared


def _open(session: requests.Session, url: str, limits: DownloadLimits, on_hop) -> requests.Response:
    """Follow redirects by hand, checking and pinning each hop; returns the final response."""
    adapter = PinnedAddressAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _refuse_ambiguous(url)
    for _hop in range(MAX_REDIRECTS + 1):
        request = _prepare(session, url)
        assert request.url is not None  # _prepare checked it
        adapter.pin(request.url, check_hop(request.url, limits))
        timeout = (limits.connect_timeout, limits.read_timeout)
        response = session.send(request, stream=True, allow_redirects=False, timeout=timeout)
        if not response.is_redirect:
            return response
        location = response.headers.get("Location", "")
        response.close()
        on_hop()  # a heartbeat between hops: each may take up to the timeouts
        # checked before urljoin, which silently drops tabs and newlines
        url = urljoin(request.url, _refuse_ambiguous(location))
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
    admit: Callable[[int | None], int] | None = None,
) -> int:
    """Stream `url` into `dest`; returns the byte count. Raises DownloadError; dest is then gone.

    `admit` is called with the declared length (None without one) before any byte of the body
    is read, and answers how many bytes the download may take (a metered link's allowance:
    past it, `BANDWIDTH_EXCEEDED`); it raises DownloadError to refuse the download outright.
    """
    deadline = time.monotonic() + limits.max_seconds
    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT
            session.trust_env = False  # no proxy or .netrc credentials from the environment
            response = _open(session, url, limits, lambda: on_progress and on_progress(0, None))
            with response:
                _check_status(response)
                total = _declared_length(response, limits)
                allowance = admit(total) if admit is not None else None
                return _write_body(response, dest, limits, deadline, total, on_progress, allowance)
    except requests.RequestException as exc:
        dest.unlink(missing_ok=True)
        # from None: the library's message quotes the URL, and with it the link's secret
        raise DownloadError(
            "DOWNLOAD_FAILED", f"network error: {type(exc).__name__}", retryable=True
        ) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _write_body(response, dest, limits, deadline, total, on_progress, allowance=None) -> int:
    done = 0
    with open(dest, "wb") as fh:
        # read1 returns what has arrived, so a server dripping bytes meets the deadline check.
        while chunk := response.raw.read1(CHUNK_BYTES, decode_content=False):
            done += len(chunk)
            if done > limits.max_bytes:
                raise DownloadError("TOO_LARGE", "the package is larger than the allowed size")
            if allowance is not None and done > allowance:
                raise DownloadError(BANDWIDTH_EXCEEDED, "the daily bandwidth is used up")
            if time.monotonic() > deadline:
                raise DownloadError("DOWNLOAD_FAILED", "the download took too long")
            fh.write(chunk)
            if on_progress:
                on_progress(done, total)
    if total is not None and done != total:
        raise DownloadError("DOWNLOAD_FAILED", "the download ended early", retryable=True)
    return done
