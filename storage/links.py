"""Package links: which are accepted, and the key material each one carries.

A Discord link is `https://click.discord.com/ls/click?upn=<UPN>`; its key material is the UPN. A
link under an allow-listed origin (DL_ZIP_WHITELISTED_DOMAINS) is accepted too, and its key
material is the whole link (its package id then needs the server secret: `package_id_for`).
Anything else is refused before it is stored or queued.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from storage.crypto import UPN_BYTES, package_id_for, spelled_with

DISCORD_HOST = "click.discord.com"
DISCORD_PATH = "/ls/click"
UPN_MIN_LENGTH = 500
UPN_MAX_LENGTH = 8192
MAX_LINK_LENGTH = 16384
UPLOAD_LINK_PREFIX = "dumpus-upload:"
METER_SEPARATOR = "\n"
UPLOAD_KEY_BYTES = 384  # 512 characters of URL-safe base64


def is_upn(text: str) -> bool:
    """A UPN: `UPN_MIN_LENGTH` to `UPN_MAX_LENGTH` characters of `storage.crypto.UPN_BYTES`."""
    return UPN_MIN_LENGTH <= len(text) <= UPN_MAX_LENGTH and spelled_with(text, UPN_BYTES)


class InvalidLink(ValueError):
    """The link is not one this server accepts."""


@dataclass(frozen=True)
class PackageLink:
    """An accepted link, its key material and the package id it names."""

    url: str
    key_material: str
    package_id: str


def origin_of(url: str) -> str:
    """The URL's origin as allow-lists write it: `scheme://host[:port]`, lower case."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _discord_upn(parts) -> str:
    if parts.path != DISCORD_PATH:
        raise InvalidLink("not a Discord package link")
    values = parse_qs(parts.query, keep_blank_values=True).get("upn", [])
    if len(values) != 1 or not is_upn(values[0]):
        raise InvalidLink("the link has no valid upn token")
    return values[0]


def parse_package_link(
    link: str, allowed_origins: tuple[str, ...] = (), server_secret: bytes = b""
) -> PackageLink:
    """Validate a link and return its key material and package id, or raise InvalidLink.

    `server_secret` is needed for links of allow-listed origins (their id is an HMAC).
    """
    if not isinstance(link, str) or not link or len(link) > MAX_LINK_LENGTH:
        raise InvalidLink("the link is missing or too long")
    if any(not 32 < ord(ch) < 127 or ch in "\\#" for ch in link):
        raise InvalidLink("the link contains forbidden characters")
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError as exc:
        raise InvalidLink("the link is not a valid URL") from exc
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidLink("the link must not carry credentials or a fragment")
    if parts.scheme == "https" and parts.hostname == DISCORD_HOST and port in (None, 443):
        return _accepted(link, _discord_upn(parts), server_secret)
    if origin_of(link) in allowed_origins and parts.path not in ("", "/"):
        return _accepted(link, link, server_secret)
    raise InvalidLink("the link does not point to Discord or an allowed origin")


def _accepted(link: str, key_material: str, server_secret: bytes) -> PackageLink:
    package_id = package_id_for(key_material, server_secret)
    return PackageLink(url=link, key_material=key_material, package_id=package_id)


def key_material_of(
    link: str, allowed_origins: tuple[str, ...] = (), server_secret: bytes = b""
) -> str:
    """The key material of an already accepted link (the worker re-derives it from the link),
    or of a direct upload's `upload_link`."""
    if is_upload_link(link):
        key_material = link[len(UPLOAD_LINK_PREFIX) :]
        if not is_upn(key_material):
            raise InvalidLink("not an upload's key")
        return key_material
    return parse_package_link(link, allowed_origins, server_secret).key_material


def new_upload_key() -> str:
    """A direct upload's key material: 512 random URL-safe characters, shaped as a UPN (so its
    package id is its MD5 and the UPN routes take it)."""
    return secrets.token_urlsafe(UPLOAD_KEY_BYTES)


def upload_link(key_material: str) -> str:
    """What the link vault seals for a direct upload; no client can submit it as a link
    (`parse_package_link` takes http(s) links only)."""
    return UPLOAD_LINK_PREFIX + key_material


def is_upload_link(link: str) -> bool:
    return link.startswith(UPLOAD_LINK_PREFIX)


def with_meter(link: str, meter: str | None) -> str:
    """What the vault seals for a metered link: the bandwidth meter it is charged to, a line
    of its own before the link (a link has no line break), sealed and shredded with it."""
    return link if meter is None else f"{meter}{METER_SEPARATOR}{link}"


def split_meter(sealed_text: str) -> tuple[str | None, str]:
    """(the meter or None, the link) of what `with_meter` made."""
    meter, _, link = sealed_text.rpartition(METER_SEPARATOR)
    return meter or None, link
