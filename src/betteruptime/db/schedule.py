"""Claiming websites that are due for a check, safely from several pushers at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Uuid, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeEngine

from betteruptime.db.models import UTCDateTime, Website
from betteruptime.rules.checks import CheckKind


@dataclass(frozen=True, slots=True)
class DueWebsite:
    """A website claimed for one check: what to check and when it was due."""

    id: uuid.UUID
    kind: CheckKind
    url: str
    options: str | None
    timeout_seconds: int
    interval_seconds: int
    scheduled_at: datetime
    next_check_at: datetime


# The new next_check_at is the check's own slot plus the interval, keeping a steady
# cadence. A website more than half an interval behind (pusher down, new website,
# interval changed) is rescheduled from now: one check now, the next one interval later,
# never a burst of catch-up checks, and every job gets at least half an interval before
# its deadline. FOR UPDATE SKIP LOCKED lets concurrent pushers claim disjoint rows; a
# row another pusher updated and committed meanwhile is re-checked against the WHERE
# clause by PostgreSQL and skipped because it is no longer due. The claimed ids are
# collected into an array first, so the update finds its rows through the primary key:
# joined as a subquery, the planner hashed it against a sequential scan of the whole
# website table on every round (10 ms per round at 100,000 websites, most of
# PostgreSQL's CPU in the capacity benchmark).
_PG_CLAIM = text(
    """
    UPDATE website AS w
    SET next_check_at = CASE
        WHEN w.next_check_at + make_interval(secs => w.interval_seconds / 2.0) <= :now
        THEN :now + make_interval(secs => w.interval_seconds)
        ELSE w.next_check_at + make_interval(secs => w.interval_seconds)
    END
    WHERE w.id = ANY(ARRAY(
        SELECT id FROM website
        WHERE enabled AND next_check_at <= :now AND kind <> 'heartbeat'
        ORDER BY next_check_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING w.id, w.kind, w.url, w.options, w.timeout_seconds, w.interval_seconds, w.next_check_at
    """
)

# SQLite has one writer at a time, so a single UPDATE … RETURNING is already exclusive.
# Timestamps are stored as naive UTC text; julianday arithmetic keeps them in that form
# (millisecond precision, which still sorts correctly against microsecond values).
_SQLITE_CLAIM = text(
    """
    UPDATE website
    SET next_check_at = strftime('%Y-%m-%d %H:%M:%f', CASE
        WHEN julianday(next_check_at) + interval_seconds / 172800.0 <= julianday(:now)
        THEN julianday(:now) + interval_seconds / 86400.0
        ELSE julianday(next_check_at) + interval_seconds / 86400.0
    END)
    WHERE id IN (
        SELECT id FROM website
        WHERE enabled = 1 AND next_check_at <= :now AND kind <> 'heartbeat'
        ORDER BY next_check_at
        LIMIT :limit
    )
    RETURNING id, kind, url, options, timeout_seconds, interval_seconds, next_check_at
    """
)

_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Uuid(),
    "kind": String(),
    "url": String(),
    "options": String(),
    "timeout_seconds": Integer(),
    "interval_seconds": Integer(),
    "next_check_at": UTCDateTime(),
}


@asynccontextmanager
async def claim_due(
    engine: AsyncEngine, now: datetime, limit: int
) -> AsyncIterator[list[DueWebsite]]:
    """Yield up to limit due websites, already moved forward, inside an open transaction.

    The transaction commits when the block exits normally and rolls back when it raises,
    so a caller that fails to enqueue the jobs leaves the websites due.
    """
    sql = _PG_CLAIM if engine.dialect.name == "postgresql" else _SQLITE_CLAIM
    stmt = sql.bindparams(bindparam("now", type_=UTCDateTime()), bindparam("limit"))
    stmt_typed = stmt.columns(**_COLUMNS)
    async with engine.begin() as conn:
        result = await conn.execute(stmt_typed, {"now": now, "limit": limit})
        due = []
        for row in result:
            interval = timedelta(seconds=row.interval_seconds)
            due.append(
                DueWebsite(
                    id=row.id,
                    kind=CheckKind(row.kind),
                    url=row.url,
                    options=row.options,
                    timeout_seconds=row.timeout_seconds,
                    interval_seconds=row.interval_seconds,
                    scheduled_at=row.next_check_at - interval,
                    next_check_at=row.next_check_at,
                )
            )
        # Oldest first, so the head of the stream is what is most overdue.
        due.sort(key=lambda d: d.scheduled_at)
        yield due


async def next_due_at(engine: AsyncEngine) -> datetime | None:
    """Return the earliest next_check_at of an enabled website (index-only on ix_website_due)."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(func.min(Website.next_check_at)).where(
                Website.enabled.is_(True), Website.kind != CheckKind.HEARTBEAT
            )
        )
        value = result.scalar_one_or_none()
    if value is None:
        return None
    # func.min drops the column type on some dialects; normalise to aware UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, engine.dialect)
