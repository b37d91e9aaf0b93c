"""Rollups against a brute-force count of raw ticks, on PostgreSQL and SQLite.

Random ticks (with redeliveries and ticks arriving after their hour was rolled up) are
stored, rolled up, and every hourly and daily row is compared with a plain count over
every stored tick. Recomputing is idempotent, catches up after a stop, runs safely in
two processes at once, and old rollups expire.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import RollupProgress, Website
from betteruptime.db.rollups import RollupConfig, expire_rollups, roll_up
from betteruptime.db.session import create_engine
from betteruptime.rules.rollup import HOUR, floor_hour
from tests.history import (
    RawTick,
    add_region,
    brute_daily,
    brute_hourly,
    daily_rows,
    hourly_rows,
    insert_ticks,
    random_tick,
    random_ticks,
    stored_ticks,
    website_refs,
)
from tests.pipeline.helpers import (
    create_user,
    create_websites,
    spawn,
    stop_process,
    wait_for,
    wait_for_log,
)

# Half past ten: the hour from 10:00 is in progress, everything before it is closed.
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
ALWAYS = RollupConfig(recompute_every=timedelta(0))


async def _setup(engine: AsyncEngine, websites: int = 3) -> tuple[list[int], list[int]]:
    owner = await create_user(engine)
    ids = await create_websites(engine, owner, [f"https://e{i}.example/" for i in range(websites)])
    regions = [await add_region(engine, name) for name in ("eu-west", "us-east")]
    return await website_refs(engine, ids), regions


async def _assert_matches_brute_force(engine: AsyncEngine, now: datetime) -> None:
    ticks = await stored_ticks(engine)
    closed = now.replace(minute=0, second=0, microsecond=0)
    assert await hourly_rows(engine) == brute_hourly(ticks, closed)
    assert await daily_rows(engine) == brute_daily(ticks, closed)


async def test_rollups_match_a_brute_force_count_with_late_and_duplicated_ticks(
    engine: AsyncEngine,
) -> None:
    rng = random.Random(9)
    websites, regions = await _setup(engine)
    start = NOW - timedelta(hours=30)
    ticks = random_ticks(rng, websites, regions, start, NOW)
    # Redeliveries: the same (website, region, scheduled_at) again, other values.
    duplicates = [random_tick(rng, t.website_ref, t.region_ref, t.scheduled_at) for t in ticks[::7]]
    await insert_ticks(engine, ticks)
    await insert_ticks(engine, duplicates)

    first = await roll_up(engine, NOW, RollupConfig())
    assert first.hours == 30  # from the oldest tick's hour to the hour in progress
    assert first.rolled_until == NOW.replace(minute=0)
    await _assert_matches_brute_force(engine, NOW)
    # The hour in progress is not rolled up.
    assert all(hour < NOW.replace(minute=0) for _, _, hour in await hourly_rows(engine))

    # Late ticks: scheduled in closed hours, stored after they were rolled up.
    late = [
        RawTick(websites[0], regions[1], NOW.replace(minute=0) - timedelta(minutes=m), 1, 70)
        for m in (1, 61, 119)
    ]
    await insert_ticks(engine, late)
    later = NOW + timedelta(minutes=20)
    second = await roll_up(engine, later, ALWAYS)
    assert second.hours == 3  # the last three closed hours, again
    await _assert_matches_brute_force(engine, later)


async def test_recomputing_an_hour_gives_the_same_rows(engine: AsyncEngine) -> None:
    websites, regions = await _setup(engine, websites=2)
    await insert_ticks(
        engine, random_ticks(random.Random(3), websites, regions, NOW - 5 * HOUR, NOW)
    )
    await roll_up(engine, NOW, ALWAYS)
    hourly, daily = await hourly_rows(engine), await daily_rows(engine)
    again = await roll_up(engine, NOW + timedelta(minutes=1), ALWAYS)
    assert again.hours == 3
    assert await hourly_rows(engine) == hourly
    assert await daily_rows(engine) == daily


async def test_late_ticks_wait_for_the_next_recompute_and_are_then_folded_in(
    engine: AsyncEngine,
) -> None:
    websites, regions = await _setup(engine, websites=1)
    hour = NOW.replace(minute=0) - HOUR
    await insert_ticks(engine, [RawTick(websites[0], regions[0], hour, 0, 100)])
    await roll_up(engine, NOW, RollupConfig(recompute_every=timedelta(minutes=10)))
    await insert_ticks(
        engine, [RawTick(websites[0], regions[0], hour + timedelta(minutes=59), 1, 300)]
    )
    # Five minutes later the recompute is not due: only new hours would be rolled up.
    soon = await roll_up(engine, NOW + timedelta(minutes=5), RollupConfig())
    assert soon.hours == 0
    assert (await hourly_rows(engine))[(websites[0], regions[0], hour)].checks == 1
    # Ten minutes after the last one it is: the late tick is in.
    due = await roll_up(engine, NOW + timedelta(minutes=11), RollupConfig())
    assert due.hours == 3
    row = (await hourly_rows(engine))[(websites[0], regions[0], hour)]
    assert (row.checks, row.failures, row.rt_max) == (2, 1, 300)


async def test_a_stopped_housekeeper_catches_up_every_missed_hour(engine: AsyncEngine) -> None:
    rng = random.Random(4)
    websites, regions = await _setup(engine, websites=2)
    await insert_ticks(engine, random_ticks(rng, websites, regions, NOW - 2 * HOUR, NOW))
    await roll_up(engine, NOW, RollupConfig())
    # Stopped for two days and a bit; ticks kept coming meanwhile.
    restart = NOW + timedelta(days=2, hours=3)
    await insert_ticks(engine, random_ticks(rng, websites, regions, NOW, restart, density=0.2))
    result = await roll_up(engine, restart, RollupConfig(chunk_hours=5))
    assert result.hours == 51  # 10:00 on day one to 13:00 on day three, each exactly once
    assert result.rolled_until == restart.replace(minute=0)
    await _assert_matches_brute_force(engine, restart)


async def test_a_database_without_ticks_starts_rolling_up_from_now(engine: AsyncEngine) -> None:
    result = await roll_up(engine, NOW, RollupConfig())
    assert result.hours == 3  # the (empty) late window, once
    assert result.rolled_until == NOW.replace(minute=0)
    async with engine.connect() as conn:
        progress = await conn.scalar(select(RollupProgress.rolled_until))
    assert progress == NOW.replace(minute=0)
    assert await hourly_rows(engine) == {}


async def test_two_housekeepers_at_once_give_the_same_rows_as_one(engine: AsyncEngine) -> None:
    first = engine
    # A second engine on the same database: another process, as far as the database knows.
    second = create_engine(first.url.render_as_string(hide_password=False))
    try:
        rng = random.Random(5)
        websites, regions = await _setup(first, websites=4)
        await insert_ticks(first, random_ticks(rng, websites, regions, NOW - 26 * HOUR, NOW))
        results = await asyncio.gather(
            roll_up(first, NOW, RollupConfig(chunk_hours=2)),
            roll_up(second, NOW, RollupConfig(chunk_hours=2)),
            roll_up(first, NOW, ALWAYS),
            roll_up(second, NOW, ALWAYS),
        )
        # Every hour was rolled up, and the rounds that came second found the work done.
        assert all(r.rolled_until == NOW.replace(minute=0) for r in results)
        await _assert_matches_brute_force(first, NOW)
    finally:
        await second.dispose()


async def test_expiry_deletes_old_hourly_rows_and_keeps_daily_ones_unless_asked(
    engine: AsyncEngine,
) -> None:
    websites, regions = await _setup(engine, websites=1)
    days_ago = [1, 5, 9]
    await insert_ticks(
        engine,
        [RawTick(websites[0], regions[0], NOW - timedelta(days=d), 0, 100) for d in days_ago],
    )
    await roll_up(engine, NOW, RollupConfig())
    assert len(await hourly_rows(engine)) == 3

    result = await expire_rollups(engine, NOW, hourly_days=7, daily_days=None, batch=1)
    assert (result.hourly, result.daily) == (1, 0)
    assert sorted(h for _, _, h in await hourly_rows(engine)) == [
        (NOW - timedelta(days=d)).replace(minute=0) for d in (5, 1)
    ]
    assert len(await daily_rows(engine)) == 3

    result = await expire_rollups(engine, NOW, hourly_days=7, daily_days=3)
    assert (result.hourly, result.daily) == (0, 2)
    assert [d for _, _, d in await daily_rows(engine)] == [(NOW - timedelta(days=1)).date()]


async def test_deleting_a_website_deletes_its_rollups(engine: AsyncEngine) -> None:
    websites, regions = await _setup(engine, websites=2)
    await insert_ticks(
        engine,
        [RawTick(w, regions[0], NOW - 2 * HOUR, 0, 50) for w in websites],
    )
    await roll_up(engine, NOW, RollupConfig())
    async with engine.begin() as conn:
        await conn.execute(delete(Website).where(Website.ref == websites[0]))
    assert {w for w, _, _ in await hourly_rows(engine)} == {websites[1]}
    assert {w for w, _, _ in await daily_rows(engine)} == {websites[1]}


@pytest.mark.postgres
async def test_the_pusher_process_rolls_up_closed_hours(
    pg_engine: AsyncEngine,
    fresh_postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    websites, regions = await _setup(pg_engine, websites=2)
    closed = floor_hour(datetime.now(UTC)) - 2 * HOUR
    ticks = [RawTick(w, r, closed + timedelta(minutes=5), 0, 90) for w in websites for r in regions]
    await insert_ticks(pg_engine, ticks)
    log = tmp_path / "pusher.log"
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{redis_prefix}Websites",
        "LOG_LEVEL": "INFO",
    }
    proc = spawn(["pusher"], env, log)
    try:
        await wait_for_log(proc, log, '"housekeeping started"')

        async def rolled_up() -> bool:
            return len(await hourly_rows(pg_engine)) == len(ticks)

        await wait_for(rolled_up, 20, "the pusher's housekeeping to roll up the hour")
    finally:
        code = await stop_process(proc)
    output = log.read_text()
    assert code == 0, output
    assert '"housekeeping started"' in output
    assert await hourly_rows(pg_engine) == brute_hourly(ticks, closed + HOUR)
