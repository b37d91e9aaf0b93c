"""Ticks: batch writes of check results (plus the latest state per region), and reads."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Uuid, bindparam, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db.models import Region, UTCDateTime, WebsiteTick
from betteruptime.rules.checks import ERROR_MAX_LENGTH
from betteruptime.rules.status import Status


@dataclass(slots=True)  # not frozen: one per check, and frozen __init__ is slow
class TickRow:
    """One check result of one message, ready to store."""

    website_id: uuid.UUID
    message_id: str
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    scheduled_at: datetime | None
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How many ticks were new (not redeliveries) and how many status rows changed."""

    inserted: int
    status_updated: int


# One statement, so one round trip and one implicit transaction: ticks and website_status
# are written together or not at all. Rows of websites deleted meanwhile are dropped by
# the filter instead of failing the batch on the foreign key; the filter probes the
# primary key with the batch's ids (= ANY), because a join let the planner hash the
# whole website table on every batch, a cost that grew with the number of websites.
# Status rows are upserted in website_id order so two workers writing overlapping
# batches lock rows in the same order (no deadlock), and an older result never
# overwrites a newer one.
_PG_WRITE = """
WITH r AS (
    SELECT r.*
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[],
                $7::timestamptz[], $8::timestamptz[])
         AS r(website_id, message_id, status, status_code, response_time_ms, error,
              scheduled_at, checked_at)
    WHERE r.website_id IN (SELECT id FROM website WHERE id = ANY($1::uuid[]))
), ins AS (
    INSERT INTO website_tick (website_id, region_id, status, status_code, response_time_ms,
                              error, scheduled_at, checked_at, message_id)
    SELECT website_id, $9, status, status_code, response_time_ms, error, scheduled_at,
           checked_at, message_id
    FROM r
    ORDER BY message_id
    ON CONFLICT (region_id, message_id) DO NOTHING
    RETURNING 1
), st AS (
    INSERT INTO website_status AS s (website_id, region_id, status, status_code,
                                     response_time_ms, error, checked_at, changed_at)
    SELECT DISTINCT ON (website_id) website_id, $9, status, status_code, response_time_ms,
           error, checked_at, checked_at
    FROM r
    ORDER BY website_id, checked_at DESC
    ON CONFLICT (website_id, region_id) DO UPDATE SET
        status = EXCLUDED.status,
        status_code = EXCLUDED.status_code,
        response_time_ms = EXCLUDED.response_time_ms,
        error = EXCLUDED.error,
        checked_at = EXCLUDED.checked_at,
        changed_at = CASE WHEN s.status = EXCLUDED.status THEN s.changed_at
                          ELSE EXCLUDED.checked_at END
    WHERE s.checked_at < EXCLUDED.checked_at
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM st) AS status_updated
"""

_SQLITE_TICK = text(
    """
    INSERT INTO website_tick (website_id, region_id, status, status_code, response_time_ms,
                              error, scheduled_at, checked_at, message_id)
    SELECT :website_id, :region_id, :status, :status_code, :response_time_ms, :error,
           :scheduled_at, :checked_at, :message_id
    WHERE EXISTS (SELECT 1 FROM website WHERE id = :website_id)
    ON CONFLICT (region_id, message_id) DO NOTHING
    """
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("scheduled_at", type_=UTCDateTime()),
    bindparam("checked_at", type_=UTCDateTime()),
)

_SQLITE_STATUS = text(
    """
    INSERT INTO website_status (website_id, region_id, status, status_code, response_time_ms,
                                error, checked_at, changed_at)
    SELECT :website_id, :region_id, :status, :status_code, :response_time_ms, :error,
           :checked_at, :checked_at
    WHERE EXISTS (SELECT 1 FROM website WHERE id = :website_id)
    ON CONFLICT (website_id, region_id) DO UPDATE SET
        status = excluded.status,
        status_code = excluded.status_code,
        response_time_ms = excluded.response_time_ms,
        error = excluded.error,
        checked_at = excluded.checked_at,
        changed_at = CASE WHEN website_status.status = excluded.status
                          THEN website_status.changed_at ELSE excluded.checked_at END
    WHERE website_status.checked_at < excluded.checked_at
    """
).bindparams(
    bindparam("website_id", type_=Uuid()),
    bindparam("checked_at", type_=UTCDateTime()),
)


def _error(value: str | None) -> str | None:
    return value[:ERROR_MAX_LENGTH] if value is not None else None


async def write_ticks(engine: AsyncEngine, region_id: str, rows: Sequence[TickRow]) -> WriteResult:
    """Store a batch of results atomically; redelivered messages are no-op inserts."""
    if not rows:
        return WriteResult(0, 0)
    if engine.dialect.name == "postgresql":
        return await _write_postgres(engine, region_id, rows)
    return await _write_sqlite(engine, region_id, rows)


async def _write_postgres(
    engine: AsyncEngine, region_id: str, rows: Sequence[TickRow]
) -> WriteResult:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        apg: Any = raw.driver_connection
        record = await apg.fetchrow(
            _PG_WRITE,
            [r.website_id for r in rows],
            [r.message_id for r in rows],
            [r.status.value for r in rows],
            [r.status_code for r in rows],
            [r.response_time_ms for r in rows],
            [_error(r.error) for r in rows],
            [r.scheduled_at for r in rows],
            [r.checked_at for r in rows],
            region_id,
        )
    return WriteResult(int(record["inserted"]), int(record["status_updated"]))


async def _write_sqlite(
    engine: AsyncEngine, region_id: str, rows: Sequence[TickRow]
) -> WriteResult:
    params = [
        {
            "website_id": r.website_id,
            "region_id": region_id,
            "status": r.status.value,
            "status_code": r.status_code,
            "response_time_ms": r.response_time_ms,
            "error": _error(r.error),
            "scheduled_at": r.scheduled_at,
            "checked_at": r.checked_at,
            "message_id": r.message_id,
        }
        for r in rows
    ]
    async with engine.begin() as conn:
        ticks = await conn.execute(_SQLITE_TICK, params)
        status = await conn.execute(
            _SQLITE_STATUS, sorted(params, key=lambda p: (str(p["website_id"]), p["checked_at"]))
        )
    return WriteResult(max(ticks.rowcount, 0), max(status.rowcount, 0))


async def register_region(engine: AsyncEngine, region_id: str, name: str | None = None) -> bool:
    """Insert the region unless it exists; return True when this call created it."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING: two workers of a new region starting at once both succeed.
    stmt = insert(Region).values(id=region_id, name=name or region_id)
    stmt = stmt.on_conflict_do_nothing(index_elements=["id"])
    async with engine.begin() as conn:
        result = await conn.execute(stmt)
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class TickCursor:
    """A position in a website's ticks, newest first: the last tick of a page."""

    checked_at: datetime
    id: int

    @classmethod
    def of(cls, tick: WebsiteTick) -> TickCursor:
        """Return the cursor just past this tick."""
        return cls(tick.checked_at, tick.id)

    def encode(self) -> str:
        """Return the cursor as an opaque, URL-safe string."""
        raw = f"{self.checked_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> TickCursor:
        """Return the cursor encode() made; raise ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not a cursor") from None
        when, sep, tick_id = raw.partition("|")
        checked_at = datetime.fromisoformat(when)
        # Cursors are made in UTC: anything else would only be a hand-made one, and its
        # conversion could overflow. Ids are bigint keys.
        if not sep or checked_at.utcoffset() != timedelta(0):
            raise ValueError("not a cursor")
        if not (tick_id.isascii() and tick_id.isdigit() and int(tick_id) < 2**63):
            raise ValueError("not a cursor")
        return cls(checked_at.astimezone(UTC), int(tick_id))


async def list_ticks(
    session: AsyncSession,
    website_id: uuid.UUID,
    limit: int,
    *,
    before: datetime | None = None,
    after: TickCursor | None = None,
) -> list[WebsiteTick]:
    """Return up to limit of the website's ticks, newest first (ties: highest id first).

    `before` keeps ticks checked earlier than a time; `after` keeps ticks that come after
    the cursor in this order, so ticks sharing a checked_at on a page boundary are neither
    skipped nor repeated.
    """
    query = select(WebsiteTick).where(WebsiteTick.website_id == website_id)
    if before is not None:
        query = query.where(WebsiteTick.checked_at < before)
    if after is not None:
        # The first condition alone bounds the index range scan; the second breaks ties.
        query = query.where(
            WebsiteTick.checked_at <= after.checked_at,
            or_(WebsiteTick.checked_at < after.checked_at, WebsiteTick.id < after.id),
        )
    rows = await session.scalars(
        query.order_by(WebsiteTick.checked_at.desc(), WebsiteTick.id.desc()).limit(limit)
    )
    return list(rows)
