"""The raw-tick steps of the housekeeping loop: partitions ahead, expiry, packing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db import retention
from betteruptime.scheduler.housekeeping import Step


def _done(names: list[str]) -> str | None:
    """Return what a step did for the log, or None when it did nothing (not logged)."""
    return ", ".join(names) or None


def retention_steps(
    engine: AsyncEngine, config: retention.RetentionConfig, every_seconds: float
) -> list[Step]:
    """Return the raw-tick steps, each safe in several processes at once."""

    async def ahead(now: datetime) -> str | None:
        return _done(await retention.create_partitions_ahead(engine, now, config))

    async def expire(now: datetime) -> str | None:
        expired = await retention.drop_expired_ticks(engine, now, config)
        if expired.rows_deleted:
            return f"{expired.rows_deleted} ticks deleted"
        return _done(expired.partitions_dropped)

    async def pack(now: datetime) -> str | None:
        compacted = await retention.compact_closed_partitions(engine, now, config)
        leftovers = [
            f"{name} (left by an interrupted run) dropped" for name in compacted.leftovers_dropped
        ]
        return _done([*leftovers, *compacted.partitions])

    runs: list[tuple[str, Callable[[datetime], Awaitable[str | None]]]] = [
        ("tick partitions ahead", ahead),
        ("tick retention", expire),
        ("tick compaction", pack),
    ]
    return [Step(name=name, every_seconds=every_seconds, run=run) for name, run in runs]
