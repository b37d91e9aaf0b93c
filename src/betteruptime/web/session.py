"""Browser sessions and CSRF tokens.

The session cookie carries the same signed token the API hands out (auth/tokens.py), so
the same rules hold: it expires with JWT_LIFETIME_SECONDS, a password change ends every
session, and a logout revokes its own token (for the API too). It is HttpOnly (no script
can read it) and SameSite=Lax (other sites' forms do not send it).

CSRF: a random `bu_csrf` cookie, and in every form an HMAC of that cookie and the session
token under a key derived from the JWT secret. Another site can neither read the cookie
nor compute the HMAC, and a token minted for one session is worthless for another (so a
cookie planted from a sibling domain does not help an attacker either).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.auth.tokens import InvalidTokenError, verify_token
from betteruptime.db.models import User
from betteruptime.db.users import token_user

SESSION_COOKIE = "bu_session"
CSRF_COOKIE = "bu_csrf"
CSRF_FIELD = "csrf_token"
_CSRF_COOKIE_CHARS = 43  # token_urlsafe(32)


def new_csrf_cookie() -> str:
    """Return a fresh random value for the CSRF cookie."""
    return secrets.token_urlsafe(32)


def valid_csrf_cookie(value: str | None) -> bool:
    """Return True when the value looks like one new_csrf_cookie made."""
    return (
        value is not None
        and len(value) == _CSRF_COOKIE_CHARS
        and all(c.isalnum() or c in "-_" for c in value)
    )


def csrf_token(secret: str, csrf_cookie: str, session_token: str | None) -> str:
    """Return the form token for this CSRF cookie and session."""
    # A separate key, so a CSRF token can never double as anything signed with the secret.
    key = hashlib.sha256(b"betteruptime-csrf\x00" + secret.encode()).digest()
    message = f"{csrf_cookie}|{session_token or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_matches(
    secret: str, csrf_cookie: str | None, session_token: str | None, submitted: str | None
) -> bool:
    """Return True when the submitted form token belongs to this cookie and session."""
    if not valid_csrf_cookie(csrf_cookie) or not submitted:
        return False
    assert csrf_cookie is not None
    expected = csrf_token(secret, csrf_cookie, session_token)
    return hmac.compare_digest(expected, submitted)


async def session_user(session: AsyncSession, secret: str, token: str | None) -> User | None:
    """Return the user a session token names while it is valid, else None."""
    if not token:
        return None
    try:
        claims = verify_token(token, secret)
    except InvalidTokenError:
        return None
    return await token_user(session, claims.user_id, claims.token_id, claims.issued_at)
