"""The housekeeping steps that keep rollups up to date and expire old ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.rollups import (
    ExpiryRound,
    RollupConfig,
    RollupRound,
    expire_rollups,
    roll_up,
)
from betteruptime.scheduler.housekeeping import Step


@dataclass(frozen=True, slots=True)
class RollupSteps:
    """How often rollups are brought up to date and expired, and how long they are kept."""

    hourly_retention_days: int = 400
    daily_retention_days: int | None = None
    # A closed hour is rolled up within this long of closing; until then reads take it
    # from raw ticks, so nothing is missing meanwhile.
    every_seconds: float = 60.0
    expire_every_seconds: float = 3600.0
    rollup: RollupConfig = field(default_factory=RollupConfig)


def rollup_steps(engine: AsyncEngine, config: RollupSteps) -> list[Step]:
    """Return the steps `rollups` (hourly and daily rows) and `rollup retention`."""

    async def rollups(now: datetime) -> RollupRound:
        return await roll_up(engine, now, config.rollup)

    async def expiry(now: datetime) -> ExpiryRound:
        return await expire_rollups(
            engine, now, config.hourly_retention_days, config.daily_retention_days
        )

    return [
        Step("rollups", config.every_seconds, rollups),
        Step("rollup retention", config.expire_every_seconds, expiry),
    ]
