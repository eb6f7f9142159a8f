"""Which reverse proxies are believed about the client: `TRUSTED_PROXIES` (WSGI middleware).

By default nobody is: the client address is the socket peer and the scheme and host are the
request's own, whatever `X-Forwarded-*` headers say. `TRUSTED_PROXIES` lists the addresses or
networks (CIDR) of the proxies in front of the API (and `unix` for a proxy talking to a Unix
socket, whose peer has no address). Only when the socket peer is one of them does
`ForwardedClient` believe the headers:

- `X-Forwarded-For`, read from the right: the proxies append to it, so the first address that
  is not a trusted proxy is the client (a client can write anything to the left of it). Past
  an entry that is not an address, the last trusted hop is taken as the client;
- `X-Forwarded-Proto` (`http` or `https`) and `X-Forwarded-Host` (a host name or address with
  an optional port): the last value, the one the nearest proxy set; anything else is ignored.

The client address becomes `REMOTE_ADDR` for every layer behind: the rate limits
(`api.ratelimit`), the fast read path (`api.read_path`), Flask's `request.remote_addr`; the
scheme and host are those of the URLs the API builds (the signed download URLs of
`api.dumpus_app_files`). A hop count is not accepted: it believes whoever reaches the API
directly, a proxy or not.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable

from flask import Flask

from settings import Settings

UNIX = "unix"  # TRUSTED_PROXIES entry: a peer on a Unix socket (REMOTE_ADDR empty)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
SCHEMES = ("http", "https")


class TrustedProxies:
    """The proxies whose forwarding headers are believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = [e.strip() for e in entries if e.strip()]
        self.unix = UNIX in entries
        # entries are checked when the settings are read (settings.proxy_entry)
        self.networks = tuple(ipaddress.ip_network(e) for e in entries if e != UNIX)
        # One decision per distinct peer: a request pays a dict lookup, not a parse.
        self.trusts = functools.lru_cache(maxsize=4096)(self._trusts)

    def __bool__(self) -> bool:
        return self.unix or bool(self.networks)

    def _trusts(self, address: str) -> bool:
        """Whether `address` (a REMOTE_ADDR or an X-Forwarded-For entry) is a trusted proxy."""
        if not address:
            return self.unix
        parsed = parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client's address: the rightmost X-Forwarded-For entry that is no trusted proxy."""
        client = peer
        for entry in reversed(forwarded_for.split(",")):
            address = parse_address(entry.strip())
            if address is None:
                break
            client = str(address)
            if not self.trusts(client):
                break
        return client


def parse_address(text: str) -> Address | None:
    """An address from `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`;
    an IPv4-mapped IPv6 address as its IPv4 (a dual-stack socket reports IPv4 peers so)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def last_value(header: str | None) -> str:
    """The last comma-separated value of a header (the nearest proxy's), stripped."""
    return (header or "").rpartition(",")[2].strip()


class ForwardedClient:
    """WSGI middleware: the client's address, scheme and host, when a trusted proxy tells them."""

    def __init__(self, wsgi_app: Callable, proxies: TrustedProxies) -> None:
        self.wsgi_app = wsgi_app
        self.proxies = proxies

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR") or ""
        if self.proxies.trusts(peer):
            self._believe_headers(environ, peer)
        return self.wsgi_app(environ, start_response)

    def _believe_headers(self, environ: dict, peer: str) -> None:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for:
            environ["REMOTE_ADDR"] = self.proxies.client(peer, forwarded_for)
        scheme = last_value(environ.get("HTTP_X_FORWARDED_PROTO")).lower()
        if scheme in SCHEMES:
            environ["wsgi.url_scheme"] = scheme
        host = last_value(environ.get("HTTP_X_FORWARDED_HOST"))
        if _HOST.fullmatch(host):
            environ["HTTP_HOST"] = host


def init_app(app: Flask, settings: Settings) -> None:
    """Wrap the whole WSGI stack when proxies are trusted; call it last, so every layer (the
    fast read path included) sees the client's address. Nothing is wrapped by default."""
    proxies = TrustedProxies(settings.trusted_proxies)
    if proxies:
        app.wsgi_app = ForwardedClient(app.wsgi_app, proxies)  # type: ignore[method-assign]
