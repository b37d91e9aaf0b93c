"""Badge keys: the website a key names, and replacing a key that leaked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import Website, new_badge_key


async def website_by_badge_key(session: AsyncSession, badge_key: str) -> Website | None:
    """Return the website whose badges this key names, or None."""
    return await session.scalar(select(Website).where(Website.badge_key == badge_key))


async def rotate_badge_key(session: AsyncSession, website: Website) -> Website:
    """Give the website a new badge key (old badge links stop working) and commit."""
    website.badge_key = new_badge_key()
    await session.commit()
    return website
