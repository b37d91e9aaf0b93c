"""Heartbeats: pings recorded by key, and silences found by the late loop."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db.models import Heartbeat, Website
from betteruptime.rules.checks import CheckKind

# Heartbeat results are stored as ticks of this region: pushed, not probed from anywhere.
HEARTBEAT_REGION = "push"


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


async def store_ping(
    engine: AsyncEngine,
    website_id: uuid.UUID,
    *,
    down_at: datetime,
    last_ping_at: datetime | None,
    started_at: datetime | None,
    exit_status: int | None,
    run_ms: int | None,
    body: str | None,
    finished: bool,
) -> None:
    """Store what one ping changed: the next deadline, run times, exit status, body."""
    values: dict[str, object] = {"down_at": down_at, "late": False, "started_at": started_at}
    if finished:
        values.update(last_exit_status=exit_status, last_body=body)
        if last_ping_at is not None:
            values["last_ping_at"] = last_ping_at
        if run_ms is not None:
            values["last_run_ms"] = run_ms
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
    "Silence",
    "claim_silences",
    "find_by_key",
    "get_heartbeat",
    "last_ping_at",
    "store_ping",
)
