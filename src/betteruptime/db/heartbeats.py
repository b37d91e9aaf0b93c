"""Heartbeats: pings recorded by key, and silences found by the late loop."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db.models import Heartbeat, Website
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status

# Heartbeat results are stored as ticks of this region: pushed, not probed from anywhere.
HEARTBEAT_REGION = "push"
# Engines whose database has the region already (registering is idempotent; this only
# saves the statement on every ping).
_REGISTERED: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class PingTarget:
    """The heartbeat a ping key names, with what a ping needs to compute its next state."""

    website_id: uuid.UUID
    options: str | None
    enabled: bool
    last_ping_at: datetime | None
    started_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Silence:
    """A heartbeat whose ping is overdue (or whose run did not finish) by more than grace."""

    website_id: uuid.UUID
    down_at: datetime
    last_ping_at: datetime | None
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class PingUpdate:
    """What one ping changes in its heartbeat row, and the tick it records (if any)."""

    down_at: datetime
    started_at: datetime | None
    finished: bool
    # Only for a finished run:
    last_ping_at: datetime | None = None
    exit_status: int | None = None
    run_ms: int | None = None
    body: str | None = None
    # The result to store as a tick of HEARTBEAT_REGION (None: nothing to record).
    tick_status: Status | None = None
    tick_error: str | None = None


# PostgreSQL: the ping path is the hot one, so it runs on the driver's connection (no ORM
# session, one pool checkout for both statements, no transaction around a single read).
_PG_LOOKUP = """
SELECT w.id, w.options, w.enabled, w.created_at, h.last_ping_at, h.started_at
FROM website AS w JOIN heartbeat AS h ON h.website_id = w.id
WHERE w.ping_key = $1 AND w.kind = 'heartbeat'
"""
_PG_UPDATE = """
UPDATE heartbeat SET
    down_at = $2, late = false, started_at = $3,
    last_ping_at = CASE WHEN $4 THEN $5 ELSE last_ping_at END,
    last_exit_status = CASE WHEN $4 THEN $6 ELSE last_exit_status END,
    last_run_ms = CASE WHEN $4 AND $7::int IS NOT NULL THEN $7 ELSE last_run_ms END,
    last_body = CASE WHEN $4 THEN $8 ELSE last_body END
WHERE website_id = $1
"""


async def ensure_heartbeat_region(engine: AsyncEngine) -> None:
    """Register HEARTBEAT_REGION once per engine, before its first tick is written."""
    # The region exists once a heartbeat reports, not before: no empty region for
    # deployments without heartbeats.
    if engine not in _REGISTERED:
        await register_region(engine, HEARTBEAT_REGION, "heartbeat pings")
        _REGISTERED.add(engine)


async def ping(
    engine: AsyncEngine, ping_key: str, decide: Callable[[PingTarget], PingUpdate]
) -> tuple[PingTarget, PingUpdate] | None:
    """Look the key up and store what decide() makes of it; None (no write) for an unknown key."""
    if engine.dialect.name == "postgresql":
        found = await _ping_postgres(engine, ping_key, decide)
        if found is None:
            return None
        target, change = found
    else:
        looked_up = await find_by_key(engine, ping_key)
        if looked_up is None:
            return None
        target, change = looked_up, decide(looked_up)
        await store_ping(engine, target.website_id, change)
    if change.tick_status is not None:
        await ensure_heartbeat_region(engine)
        # The tick goes through the one tick writer, as a check's result does.
        await write_ticks(engine, HEARTBEAT_REGION, [_tick(target, change)])
    return target, change


async def _ping_postgres(
    engine: AsyncEngine, ping_key: str, decide: Callable[[PingTarget], PingUpdate]
) -> tuple[PingTarget, PingUpdate] | None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        apg: Any = raw.driver_connection
        row = await apg.fetchrow(_PG_LOOKUP, ping_key)
        if row is None:
            return None
        target = PingTarget(
            website_id=row["id"],
            options=row["options"],
            enabled=row["enabled"],
            created_at=row["created_at"],
            last_ping_at=row["last_ping_at"],
            started_at=row["started_at"],
        )
        change = decide(target)
        await apg.execute(
            _PG_UPDATE,
            target.website_id,
            change.down_at,
            change.started_at,
            change.finished,
            change.last_ping_at,
            change.exit_status,
            change.run_ms,
            change.body,
        )
    return target, change


def _tick(target: PingTarget, change: PingUpdate) -> TickRow:
    assert change.tick_status is not None and change.last_ping_at is not None
    return TickRow(
        website_id=target.website_id,
        status=change.tick_status,
        status_code=None,
        response_time_ms=change.run_ms,
        error=change.tick_error,
        scheduled_at=change.last_ping_at,
        checked_at=change.last_ping_at,
    )


async def find_by_key(engine: AsyncEngine, ping_key: str) -> PingTarget | None:
    """Return the heartbeat of a ping key, or None; a read only (unknown keys write nothing)."""
    query = (
        select(
            Website.id,
            Website.options,
            Website.enabled,
            Website.created_at,
            Heartbeat.last_ping_at,
            Heartbeat.started_at,
        )
        .join(Heartbeat, Heartbeat.website_id == Website.id)
        .where(Website.ping_key == ping_key, Website.kind == CheckKind.HEARTBEAT)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return PingTarget(
        website_id=row.id,
        options=row.options,
        enabled=row.enabled,
        last_ping_at=row.last_ping_at,
        started_at=row.started_at,
        created_at=row.created_at,
    )


async def store_ping(engine: AsyncEngine, website_id: uuid.UUID, change: PingUpdate) -> None:
    """Store what one ping changed: the next deadline, run times, exit status, body."""
    values: dict[str, object] = {
        "down_at": change.down_at,
        "late": False,
        "started_at": change.started_at,
    }
    if change.finished:
        values.update(
            last_exit_status=change.exit_status,
            last_body=change.body,
            last_ping_at=change.last_ping_at,
        )
        if change.run_ms is not None:
            values["last_run_ms"] = change.run_ms
    async with engine.begin() as conn:
        await conn.execute(
            update(Heartbeat).where(Heartbeat.website_id == website_id).values(**values)
        )


async def claim_silences(engine: AsyncEngine, now: datetime, limit: int) -> list[Silence]:
    """Mark up to limit overdue heartbeats as late and return them (each silence once).

    The conditional update is the claim: two loops running at once never report the same
    silence twice, because only one of them flips `late` from false.
    """
    due = (
        select(Heartbeat.website_id)
        .join(Website, Website.id == Heartbeat.website_id)
        .where(Heartbeat.late.is_(False), Heartbeat.down_at <= now, Website.enabled.is_(True))
        .order_by(Heartbeat.down_at)
        .limit(limit)
    )
    async with engine.begin() as conn:
        ids = list((await conn.execute(due)).scalars())
        if not ids:
            return []
        result = await conn.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id.in_(ids), Heartbeat.late.is_(False))
            .values(late=True)
            .returning(
                Heartbeat.website_id,
                Heartbeat.down_at,
                Heartbeat.last_ping_at,
                Heartbeat.started_at,
            )
        )
        return [Silence(r.website_id, r.down_at, r.last_ping_at, r.started_at) for r in result]


async def last_ping_at(session: AsyncSession, website_id: uuid.UUID) -> datetime | None:
    """Return when the heartbeat last reported success, or None."""
    return await session.scalar(
        select(Heartbeat.last_ping_at).where(Heartbeat.website_id == website_id)
    )


async def get_heartbeat(session: AsyncSession, website_id: uuid.UUID) -> Heartbeat | None:
    """Return the push state of a heartbeat website, or None for other kinds."""
    return await session.get(Heartbeat, website_id)


__all__: Sequence[str] = (
    "HEARTBEAT_REGION",
    "PingTarget",
    "PingUpdate",
    "Silence",
    "claim_silences",
    "ensure_heartbeat_region",
    "find_by_key",
    "get_heartbeat",
    "last_ping_at",
    "ping",
    "store_ping",
)
