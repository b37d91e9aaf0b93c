"""User queries: registration, lookup by name, id or token, password changes, logouts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import RevokedToken, User


class DuplicateUser(Exception):
    """The username or the email is already registered."""


async def token_user(
    session: AsyncSession, user_id: uuid.UUID, token_id: str, issued_at: float
) -> User | None:
    """Return the user a verified token names, or None when the token no longer counts.

    It no longer counts when the user is gone, when the token was revoked by a logout, or
    when it was issued (`issued_at`, seconds since the epoch) before the last password change.
    """
    # One statement for both facts: the revocation check costs no extra round trip.
    revoked = select(RevokedToken.token_id).where(RevokedToken.token_id == token_id).exists()
    user = await session.scalar(select(User).where(User.id == user_id, ~revoked))
    if user is None or issued_at < user.tokens_valid_after.timestamp():
        return None
    return user


async def revoke_token(
    session: AsyncSession, token_id: str, expires_at: datetime, now: datetime
) -> None:
    """Refuse this token from now until it expires (a logout); commit."""
    # Rows past their token's expiry guard nothing: each logout sweeps them, so the table
    # holds at most the logouts of one token lifetime.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # A second logout of the same token (two tabs) is no error.
    await session.execute(
        insert(RevokedToken)
        .values(token_id=token_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["token_id"])
    )
    await session.commit()


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    """Return the user with this username, or None."""
    return await session.scalar(select(User).where(User.username == username))


async def name_or_email_taken(session: AsyncSession, username: str, email: str) -> bool:
    """Return True when a user has this username or this email."""
    found = await session.scalar(
        select(User.id).where(or_(User.username == username, User.email == email))
    )
    return found is not None


async def create_user(
    session: AsyncSession, *, username: str, email: str, password_hash: str, now: datetime
) -> User:
    """Insert and commit a user; raise DuplicateUser when the name or email is taken."""
    user = User(username=username, email=email, password_hash=password_hash, tokens_valid_after=now)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # Someone registered the same name between the caller's check and this insert.
        await session.rollback()
        raise DuplicateUser(username) from None
    return user


async def set_password(
    session: AsyncSession, user: User, password_hash: str, now: datetime
) -> None:
    """Store a new password hash and revoke every token issued before now; commit."""
    user.password_hash = password_hash
    user.tokens_valid_after = now
    await session.commit()
