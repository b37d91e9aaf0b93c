"""Raw ticks written straight into the tick table, and the brute-force figures they make.

Rollup and statistics tests compare what the code computes against these: a plain
Python count over every stored tick, sharing nothing with the SQL under test but the
histogram's bucket rule.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import (
    HISTOGRAM_COLUMNS,
    Region,
    Website,
    WebsiteTick,
    tick_rollup_daily,
    tick_rollup_hourly,
)
from betteruptime.db.partitions import create_partitions
from betteruptime.db.ticks import register_region
from betteruptime.rules.histogram import histogram_of
from betteruptime.rules.rollup import Totals, floor_day, floor_hour

UP, DOWN, DEGRADED = 0, 1, 2


@dataclass(frozen=True)
class RawTick:
    """One tick as stored: refs, scheduled time, status code and response time."""

    website_ref: int
    region_ref: int
    scheduled_at: datetime
    status: int
    response_time_ms: int | None


async def add_region(engine: AsyncEngine, region_id: str) -> int:
    """Register a region (if new) and return its ref."""
    await register_region(engine, region_id)
    async with engine.connect() as conn:
        ref = await conn.scalar(select(Region.ref).where(Region.id == region_id))
    assert ref is not None
    return int(ref)


async def website_refs(engine: AsyncEngine, ids: Iterable[uuid.UUID]) -> list[int]:
    """Return the refs of websites, in the order of ids."""
    async with engine.connect() as conn:
        rows = dict((await conn.execute(select(Website.id, Website.ref))).all())
    return [int(rows[i]) for i in ids]


async def insert_ticks(engine: AsyncEngine, ticks: Sequence[RawTick]) -> None:
    """Store ticks as a worker would; a tick already stored (a redelivery) is ignored."""
    if not ticks:
        return
    if engine.dialect.name == "postgresql":
        await create_partitions(engine, sorted({t.scheduled_at.date() for t in ticks}))
    rows = [
        {
            "website_ref": t.website_ref,
            "region_ref": t.region_ref,
            "scheduled_at": t.scheduled_at,
            "delay_ms": 0,
            "status": t.status,
            "status_code": None if t.status == DOWN else 200,
            "response_time_ms": t.response_time_ms,
            "error_id": None,
        }
        for t in ticks
    ]
    insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    async with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            await conn.execute(
                insert(WebsiteTick.__table__).on_conflict_do_nothing(), rows[start : start + 2000]
            )


def random_ticks(
    rng: random.Random,
    website_refs: Sequence[int],
    region_refs: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    density: float = 0.5,
) -> list[RawTick]:
    """Return ticks every minute from start to end, each slot kept with chance density."""
    ticks = []
    for w in website_refs:
        for r in region_refs:
            moment = start
            while moment < end:
                if rng.random() < density:
                    ticks.append(random_tick(rng, w, r, moment))
                moment += timedelta(minutes=1)
    return ticks


def random_tick(rng: random.Random, website_ref: int, region_ref: int, at: datetime) -> RawTick:
    """Return a tick with a random status and response time (sometimes none)."""
    status = rng.choices([UP, DOWN, DEGRADED], weights=[8, 2, 1])[0]
    measured = status != DOWN or rng.random() < 0.5
    response = None
    if measured:
        response = rng.choice(
            [rng.randint(0, 5), rng.randint(20, 900), rng.randint(900, 70_000), 60_000]
        )
    return RawTick(website_ref, region_ref, at.replace(microsecond=0), status, response)


async def stored_ticks(engine: AsyncEngine) -> list[RawTick]:
    """Return every tick in the database."""
    t = WebsiteTick.__table__.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.website_ref, t.region_ref, t.scheduled_at, t.status, t.response_time_ms)
        )
        return [RawTick(*row) for row in rows]


def totals_of(ticks: Iterable[RawTick]) -> Totals:
    """Return the totals of some ticks, counted one by one."""
    items = list(ticks)
    times = [t.response_time_ms for t in items if t.response_time_ms is not None]
    return Totals(
        checks=len(items),
        failures=sum(1 for t in items if t.status == DOWN),
        degraded=sum(1 for t in items if t.status == DEGRADED),
        rt_count=len(times),
        rt_sum=sum(times),
        rt_min=min(times, default=None),
        rt_max=max(times, default=None),
        histogram=histogram_of(times),
    )


def brute_hourly(
    ticks: Iterable[RawTick], before: datetime
) -> dict[tuple[int, int, datetime], Totals]:
    """Return the totals per (website, region, hour) of ticks scheduled before `before`."""
    groups: dict[tuple[int, int, datetime], list[RawTick]] = defaultdict(list)
    for t in ticks:
        if t.scheduled_at < before:
            groups[(t.website_ref, t.region_ref, floor_hour(t.scheduled_at))].append(t)
    return {key: totals_of(items) for key, items in groups.items()}


def brute_daily(ticks: Iterable[RawTick], before: datetime) -> dict[tuple[int, int, date], Totals]:
    """Return the totals per (website, region, UTC day) of ticks scheduled before `before`."""
    groups: dict[tuple[int, int, date], list[RawTick]] = defaultdict(list)
    for t in ticks:
        if t.scheduled_at < before:
            groups[(t.website_ref, t.region_ref, floor_day(t.scheduled_at).date())].append(t)
    return {key: totals_of(items) for key, items in groups.items()}


def _row_totals(row: Any) -> Totals:
    return Totals(
        checks=row.checks,
        failures=row.failures,
        degraded=row.degraded,
        rt_count=row.rt_count,
        rt_sum=row.rt_sum,
        rt_min=row.rt_min,
        rt_max=row.rt_max,
        histogram=tuple(getattr(row, c) or 0 for c in HISTOGRAM_COLUMNS),
    )


async def hourly_rows(engine: AsyncEngine) -> dict[tuple[int, int, datetime], Totals]:
    """Return every hourly rollup row as totals."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(tick_rollup_hourly))
        return {(r.website_ref, r.region_ref, r.hour): _row_totals(r) for r in rows}


async def daily_rows(engine: AsyncEngine) -> dict[tuple[int, int, date], Totals]:
    """Return every daily rollup row as totals."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(tick_rollup_daily))
        return {(r.website_ref, r.region_ref, r.day): _row_totals(r) for r in rows}
