"""The dashboard's reads: one owner's websites searched by name or URL, a page at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import Website, WebsiteStatus
from betteruptime.rules.status import Status

SEARCH_MAX_LENGTH = 200


@dataclass(slots=True)
class LatestStates:
    """A website's schedule and the latest (status, checked_at) of each region."""

    website_id: uuid.UUID
    interval_seconds: int
    regions: list[tuple[Status, datetime]] = field(default_factory=list)


def _matching(owner_id: uuid.UUID, text: str) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = Website.owner_id == owner_id
    if text:
        # The user's text is a literal: %, _ and \ in it match themselves.
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        condition = condition & or_(
            Website.name.ilike(pattern, escape="\\"), Website.url.ilike(pattern, escape="\\")
        )
    return condition


async def search_owned(
    session: AsyncSession, owner_id: uuid.UUID, text: str, limit: int, offset: int
) -> tuple[int, list[Website]]:
    """Return how many of the owner's websites match, and one page of them (oldest first)."""
    condition = _matching(owner_id, text)
    total = await session.scalar(select(func.count()).select_from(Website).where(condition))
    rows = await session.scalars(
        select(Website)
        .where(condition)
        .order_by(Website.created_at, Website.id)
        .limit(limit)
        .offset(offset)
    )
    return total or 0, list(rows)


async def latest_states_of_matching(
    session: AsyncSession, owner_id: uuid.UUID, text: str
) -> list[LatestStates]:
    """Return every matching website's region states (oldest website first), in one query."""
    # Filtering by status needs every match's status; this reads only the narrow columns
    # the status rules use (no website rows are built).
    rows = await session.execute(
        select(Website.id, Website.interval_seconds, WebsiteStatus.status, WebsiteStatus.checked_at)
        .outerjoin(WebsiteStatus, WebsiteStatus.website_id == Website.id)
        .where(_matching(owner_id, text))
        .order_by(Website.created_at, Website.id)
    )
    found: dict[uuid.UUID, LatestStates] = {}
    for website_id, interval, status, checked_at in rows:
        entry = found.get(website_id)
        if entry is None:
            entry = found[website_id] = LatestStates(website_id, interval)
        if status is not None:
            entry.regions.append((status, checked_at))
    return list(found.values())


async def websites_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Website]:
    """Return these websites in the order of ids (ids the caller already filtered by owner)."""
    if not ids:
        return []
    rows = {w.id: w for w in await session.scalars(select(Website).where(Website.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]
