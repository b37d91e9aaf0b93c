"""User queries: registration, lookup by name or id, password changes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import User


class DuplicateUser(Exception):
    """The username or the email is already registered."""


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """Return the user with this id, or None."""
    return await session.get(User, user_id)


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
