"""Access tokens: HS256 JWTs signed with a key derived from the server secret.

A token names its account (`sub`), its organization (`org`, for the audit log) and the API key it
was traded for (`key`), so revoking the key or deactivating the account ends every token made
from it at once. A store's token (traded for a store's key) names the store instead, and says so
(`kind`: `store`); an account's has no `kind`. Nothing here touches Flask or the store:
`api.identity` does.
"""

from __future__ import annotations

import functools
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


STORE_KIND = "store"


@dataclass(frozen=True)
class TokenClaims:
    account_id: str  # a store's id in a store's token (`is_store`)
    key_id: str
    expires_at: int
    organization_id: str | None = None
    is_store: bool = False


def looks_like_a_token(bearer: str) -> bool:
    """A JWT's shape (a UPN, the other bearer, never has it in practice): worth verifying."""
    return bearer.startswith("eyJ") and bearer.count(".") == 2


@functools.lru_cache(maxsize=8)
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
    store: bool = False,
) -> str:
    """A token for the account (or, with `store`, the store of that id), valid `lifetime`
    seconds from `now`."""
    issued = int(now)
    claims: dict[str, object] = {
        "sub": account_id,
        "key": key_id,
        "iat": issued,
        "exp": issued + lifetime,
    }
    if organization_id:
        claims["org"] = organization_id  # what the audit log files a call under
    if store:
        claims["kind"] = STORE_KIND
    return jwt.encode(claims, signing_key(server_secret), algorithm=ALGORITHM)


VERIFIED_TOKENS_KEPT = 4096  # per process: the claims of tokens whose signature was checked


def read(token: str, server_secret: bytes, now: float) -> TokenClaims:
    """The claims of a token signed here and not expired at `now` (the API's clock);
    TokenExpired or TokenInvalid."""
    claims = _verified(token, signing_key(server_secret))
    if claims.expires_at <= now:
        raise TokenExpired
    return claims


@functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(token: str, key: bytes) -> TokenClaims:
    """The claims of a token whose signature `key` checks, remembered: a client sends the same
    token with every call, and checking it again (base64, JSON, HMAC) would cost more than the
    rest of a small request. The expiry is checked by `read` on every call; a failed check
    raises, and is not remembered."""
    try:
        claims = jwt.decode(
            token,
            key,
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
    if not isinstance(claims["exp"], int):
        raise TokenInvalid
    organization = claims.get("org")
    organization = organization if isinstance(organization, str) else None
    is_store = claims.get("kind") == STORE_KIND
    return TokenClaims(claims["sub"], claims["key"], claims["exp"], organization, is_store)
