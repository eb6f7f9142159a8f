"""Account access tokens: HS256 JWTs signed with a key derived from the server secret.

A token names its account (`sub`) and the API key it was traded for (`key`), so revoking the key
or deactivating the account ends every token made from it at once. Nothing here touches Flask
or the store: `api.identity` does.
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


def signing_key(server_secret: bytes) -> bytes:
    """The token key: the server secret, bound to this one purpose."""
    return hmac.new(server_secret, _PURPOSE, hashlib.sha256).digest()


def issue(account_id: str, key_id: str, server_secret: bytes, now: float, lifetime: int) -> str:
    """A token for the account, valid `lifetime` seconds from `now`."""
    issued = int(now)
    claims = {"sub": account_id, "key": key_id, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, signing_key(server_secret), algorithm=ALGORITHM)


def read(token: str, server_secret: bytes) -> TokenClaims:
    """The claims of a token signed here and not expired; TokenExpired or TokenInvalid."""
    try:
        claims = jwt.decode(
            token,
            signing_key(server_secret),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "key", "iat", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired from None
    except jwt.InvalidTokenError:
        raise TokenInvalid from None
    if not isinstance(claims["sub"], str) or not isinstance(claims["key"], str):
        raise TokenInvalid
    return TokenClaims(claims["sub"], claims["key"], int(claims["exp"]))
