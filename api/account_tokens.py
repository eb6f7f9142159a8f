"""Account access tokens: HS256 JWTs signed with a key derived from the server secret.

A token names its account (`sub`), its organization (`org`, for the audit log) and the API key it
was traded for (`key`), so revoking the key or deactivating the account ends every token made
from it at once. Nothing here touches Flask or the store: `api.identity` does.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
_PURPOSE = b"dumpus account access tokens v1"


class TokenExpired(Exception):
    """The token was valid once; its `exp` has passed."""


class TokenInvalid(Exception):
    """Not a token of this server: malformed, wrongly signed, or missing a claim."""


@dataclass(frozen=True)
class TokenClaims:
    account_id: str
    key_id: str
    expires_at: int
    organization_id: str | None = None


def signing_key(server_secret: bytes) -> bytes:
    """The token key: the server secret, bound to this one purpose."""
    return hmac.new(server_secret, _PURPOSE, hashlib.sha256).digest()


def issue(
    account_id: str,
    key_id: str,
    server_secret: bytes,
    now: float,
    lifetime: int,
    organization_id: str = "",
) -> str:
    """A token for the account, valid `lifetime` seconds from `now`."""
    issued = int(now)
    claims = {"sub": account_id, "key": key_id, "iat": issued, "exp": issued + lifetime}
    if organization_id:
        claims["org"] = organization_id  # what the audit log files a call under
    return jwt.encode(claims, signing_key(server_secret), algorithm=ALGORITHM)


def read(token: str, server_secret: bytes, now: float) -> TokenClaims:
    """The claims of a token signed here and not expired at `now` (the API's clock);
    TokenExpired or TokenInvalid."""
    try:
        claims = jwt.decode(
            token,
            signing_key(server_secret),
            algorithms=[ALGORITHM],
            # exp is checked below against the API's clock, which iat must not be held to either
            options={
                "require": ["sub", "key", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        raise TokenInvalid from None
    if not isinstance(claims["sub"], str) or not isinstance(claims["key"], str):
        raise TokenInvalid
    if not isinstance(claims["exp"], int) or claims["exp"] <= now:
        raise TokenExpired
    organization = claims.get("org")
    organization = organization if isinstance(organization, str) else None
    return TokenClaims(claims["sub"], claims["key"], claims["exp"], organization)
