"""The raw-tick steps of the housekeeping loop: partitions ahead, expiry, packing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db import retention
from betteruptime.scheduler.housekeeping import Step


def retention_steps(
    engine: AsyncEngine, config: retention.RetentionConfig, every_seconds: float
) -> list[Step]:
    """Return the raw-tick steps, each safe in several processes at once."""
    return [
        Step(
            name="tick partitions ahead",
            every_seconds=every_seconds,
            run=lambda now: retention.create_partitions_ahead(engine, now, config),
        ),
        Step(
            name="tick retention",
            every_seconds=every_seconds,
            run=lambda now: retention.drop_expired_ticks(engine, now, config),
        ),
        Step(
            name="tick compaction",
            every_seconds=every_seconds,
            run=lambda now: retention.compact_closed_partitions(engine, now, config),
        ),
    ]
