"""Bearer authentication: the UPN is the key material and the proof of ownership.

`Authorization: Bearer <UPN>`; the package id is md5(UPN), compared in constant time. A missing
or malformed header and a wrong UPN get the same 401, and ownership is checked before the
package is looked up, so the answer never tells whether a package exists.
"""

from __future__ import annotations

from flask import request

from api.errors import unauthorized
from api.services import server_secret
from storage.crypto import owns_package, spelled_with
from storage.links import MAX_LINK_LENGTH

# A UPN (or, for an allow-listed origin, the whole link): printable, no spaces.
_TOKEN_BYTES = bytes(range(0x21, 0x7F))
BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "The UPN of the package link (`upn=` of the Discord link) as the bearer token.",
}


def bearer_token() -> str | None:
    """The bearer token of the request, or None when the header is missing or malformed."""
    return parse_bearer(request.headers.get("Authorization", ""))


def parse_bearer(header: str) -> str | None:
    """The token of an `Authorization` header value, or None when it is not a valid bearer."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_LINK_LENGTH:
        return None
    return token if spelled_with(token, _TOKEN_BYTES) else None


def require_owner(package_id: str) -> str:
    """The request's UPN when it owns `package_id`; else raise the 401 ApiError."""
    token = owner_token(request.headers.get("Authorization", ""), package_id, server_secret())
    if token is None:
        raise unauthorized()
    return token


def owner_token(header: str, package_id: str, secret: bytes) -> str | None:
    """The bearer token of an `Authorization` value when it owns `package_id`, else None."""
    token = parse_bearer(header)
    if token is None or not owns_package(token, package_id, secret):
        return None
    return token
