"""JWT access tokens: HS256 only, with sub, iat, exp and jti."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "jti"]


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token."""

    user_id: uuid.UUID
    issued_at: float
    expires_at: float
    token_id: str


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or otherwise unusable."""


def issue_token(user_id: uuid.UUID, secret: str, lifetime_seconds: int) -> str:
    """Return a signed token for the user."""
    # A fractional iat lets a password change refuse tokens issued a moment before it.
    now = time.time()
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": int(now) + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> TokenClaims:
    """Return the claims of a valid token or raise InvalidTokenError."""
    try:
        # The algorithm list is pinned: a token saying `none` or RS256 is refused.
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": _REQUIRED_CLAIMS}
        )
        return TokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
            token_id=str(claims["jti"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTokenError(str(exc)) from None
