"""The dashboard's reads: one owner's websites searched by name or URL, a page at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.incidents import RESOLVED
from betteruptime.db.models import Incident, Website, WebsiteStatus
from betteruptime.rules.status import FRESHNESS_GRACE, Status

SEARCH_MAX_LENGTH = 200


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


def _fresh_condition(dialect: str, now: datetime) -> ColumnElement[bool]:
    """Return the SQL form of rules.status.region_status's freshness test."""
    grace = FRESHNESS_GRACE.total_seconds()
    if dialect == "postgresql":
        return WebsiteStatus.checked_at >= literal(now) - func.make_interval(
            0, 0, 0, 0, 0, 0, 2 * Website.interval_seconds + grace
        )
    # SQLite keeps naive UTC text; julianday() turns both sides into days.
    age_days = func.julianday(literal(now.astimezone(UTC).replace(tzinfo=None))) - func.julianday(
        WebsiteStatus.checked_at
    )
    return age_days * 86_400 <= 2 * Website.interval_seconds + grace


async def search_owned_by_status(
    session: AsyncSession,
    owner_id: uuid.UUID,
    text: str,
    status: Status,
    now: datetime,
    limit: int,
    offset: int,
) -> tuple[int, list[uuid.UUID]]:
    """Return how many matching websites have this overall status, and one page of ids.

    The status is computed in the database with the rule of rules.status.overall_status
    (tested to agree with it), so a filter over 10,000 websites reads one page of ids, not
    10,000 rows into Python.
    """
    fresh = _fresh_condition(session.get_bind().dialect.name, now)
    fresh_count = func.count(WebsiteStatus.website_id).filter(fresh)
    # DOWN exactly while an incident is unresolved; else UP with a fresh region.
    incident_open = (
        select(Incident.id)
        .where(Incident.website_id == Website.id, Incident.state != RESOLVED)
        .exists()
    )
    having: ColumnElement[bool]
    if status is Status.DOWN:
        having = incident_open
    elif status is Status.UNKNOWN:
        having = ~incident_open & (fresh_count == 0)
    else:
        having = ~incident_open & (fresh_count > 0)
    matching = (
        select(Website.id, Website.created_at)
        .outerjoin(WebsiteStatus, WebsiteStatus.website_id == Website.id)
        .where(_matching(owner_id, text))
        .group_by(Website.id, Website.created_at)
        .having(having)
        .subquery()
    )
    total = await session.scalar(select(func.count()).select_from(matching))
    ids = await session.scalars(
        select(matching.c.id)
        .order_by(matching.c.created_at, matching.c.id)
        .limit(limit)
        .offset(offset)
    )
    return total or 0, list(ids)


async def websites_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Website]:
    """Return these websites in the order of ids (ids the caller already filtered by owner)."""
    if not ids:
        return []
    rows = {w.id: w for w in await session.scalars(select(Website).where(Website.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]
