"""Raw tick storage: daily partitions made ahead and on demand, retention, compaction,
batched deletes on SQLite, and the housekeeping loop that runs them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db import partitions
from betteruptime.db.models import TickError, WebsiteTick
from betteruptime.db.retention import (
    Compacted,
    RetentionConfig,
    compact_closed_partitions,
    create_partitions_ahead,
    drop_expired_ticks,
)
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.status import Status
from betteruptime.scheduler.housekeeping import Housekeeping, Step
from betteruptime.scheduler.retention import retention_steps
from tests.pipeline.helpers import (
    create_user,
    create_websites,
    spawn,
    stop_process,
    ticks,
    wait_for,
    wait_for_log,
)

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def tick(site: uuid.UUID, at: datetime, status: Status = Status.UP) -> TickRow:
    return TickRow(
        website_id=site,
        status=status,
        status_code=200 if status is Status.UP else None,
        response_time_ms=7,
        error=None if status is Status.UP else "timeout",
        scheduled_at=at,
        checked_at=at + timedelta(milliseconds=300),
    )


async def one_site(engine: AsyncEngine) -> uuid.UUID:
    owner = await create_user(engine)
    (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"])
    await register_region(engine, "eu")
    return site


async def attached_days(engine: AsyncEngine) -> set[int]:
    """Return attached partitions as day offsets from today."""
    today = NOON.date()
    return {(p.day - today).days for p in await partitions.list_partitions(engine) if p.attached}


async def count_ticks(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(WebsiteTick)) or 0)


async def test_partitions_are_made_ahead_once(pg_engine: AsyncEngine) -> None:
    config = RetentionConfig(partitions_ahead_days=3)
    later = NOON + timedelta(days=10)
    created = await create_partitions_ahead(pg_engine, later, config)
    assert created == [
        partitions.partition_name(later.date() + timedelta(days=n)) for n in (0, 1, 2, 3)
    ]
    assert {10, 11, 12, 13} <= await attached_days(pg_engine)
    # Idempotent, and safe when several processes do it at once.
    results = await asyncio.gather(
        *(create_partitions_ahead(pg_engine, later, config) for _ in range(4))
    )
    assert results == [[], [], [], []]


async def test_a_tick_on_a_day_without_partition_gets_one_on_demand(pg_engine: AsyncEngine) -> None:
    site = await one_site(pg_engine)
    past = NOON - timedelta(days=20)
    assert -20 not in await attached_days(pg_engine)
    # Two writers meet the missing partition at the same moment: both writes succeed.
    results = await asyncio.gather(
        write_ticks(pg_engine, "eu", [tick(site, past)]),
        write_ticks(pg_engine, "eu", [tick(site, past + timedelta(minutes=1))]),
    )
    assert [r.inserted for r in results] == [1, 1]
    assert -20 in await attached_days(pg_engine)
    assert sorted(t.scheduled_at for t in await ticks(pg_engine)) == [
        past,
        past + timedelta(minutes=1),
    ]


async def test_redelivery_and_duplicates_in_one_batch_store_one_tick(engine: AsyncEngine) -> None:
    site = await one_site(engine)
    down = tick(site, NOON, Status.DOWN)
    first = await write_ticks(engine, "eu", [down, down])
    again = await write_ticks(engine, "eu", [down])
    assert (first.inserted, again.inserted) == (1, 0)
    (stored,) = await ticks(engine)
    assert (stored.status, stored.error, stored.checked_at) == (
        Status.DOWN,
        "timeout",
        NOON + timedelta(milliseconds=300),
    )


async def test_error_texts_are_stored_once_even_when_writers_race(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    sites = await create_websites(engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(4)])
    await register_region(engine, "eu")
    batches = [
        [tick(site, NOON + timedelta(minutes=m), Status.DOWN) for site in sites] for m in range(4)
    ]
    await asyncio.gather(*(write_ticks(engine, "eu", b) for b in batches))
    stored = await ticks(engine)
    assert len(stored) == 16
    assert {t.error for t in stored} == {"timeout"}
    async with engine.connect() as conn:
        assert (await conn.execute(select(TickError.text))).scalars().all() == ["timeout"]


async def test_retention_drops_whole_expired_days_and_keeps_newer(pg_engine: AsyncEngine) -> None:
    site = await one_site(pg_engine)
    days = [40, 31, 30, 29, 0]
    for age in days:
        await write_ticks(pg_engine, "eu", [tick(site, NOON - timedelta(days=age))])
    config = RetentionConfig(tick_retention_days=30)
    expired = await drop_expired_ticks(pg_engine, NOON, config)
    # The cutoff is 30 days before noon: days 40 and 31 ended before it; day 30 has ticks
    # on both sides of it and stays whole until its end passes the cutoff.
    assert expired.partitions_dropped == [
        partitions.partition_name((NOON - timedelta(days=age)).date()) for age in (40, 31)
    ]
    assert not {-40, -31} & await attached_days(pg_engine)
    assert {-30, -29, 0} <= await attached_days(pg_engine)
    remaining = sorted(t.scheduled_at for t in await ticks(pg_engine))
    assert remaining == [NOON - timedelta(days=age) for age in (30, 29, 0)]
    assert (await drop_expired_ticks(pg_engine, NOON, config)).partitions_dropped == []


async def test_retention_by_plain_drop_also_works(pg_engine: AsyncEngine) -> None:
    site = await one_site(pg_engine)
    await write_ticks(pg_engine, "eu", [tick(site, NOON - timedelta(days=3))])
    await write_ticks(pg_engine, "eu", [tick(site, NOON)])
    config = RetentionConfig(tick_retention_days=2, detach_concurrently=False)
    expired = await drop_expired_ticks(pg_engine, NOON, config)
    assert expired.partitions_dropped == [
        partitions.partition_name((NOON - timedelta(days=3)).date())
    ]
    assert [t.scheduled_at for t in await ticks(pg_engine)] == [NOON]


async def test_sqlite_retention_deletes_in_batches(sqlite_engine: AsyncEngine) -> None:
    owner = await create_user(sqlite_engine)
    sites = await create_websites(
        sqlite_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(5)]
    )
    await register_region(sqlite_engine, "eu")
    for age in (12, 11, 10, 1, 0):
        at = NOON - timedelta(days=age)
        await write_ticks(sqlite_engine, "eu", [tick(site, at) for site in sites])
    config = RetentionConfig(tick_retention_days=5, sqlite_delete_batch=4)
    expired = await drop_expired_ticks(sqlite_engine, NOON, config)
    assert expired == expired.__class__([], 15)
    remaining = await ticks(sqlite_engine)
    assert len(remaining) == 10
    assert min(t.scheduled_at for t in remaining) == NOON - timedelta(days=1)
    assert (await drop_expired_ticks(sqlite_engine, NOON, config)).rows_deleted == 0


async def test_closed_days_are_compacted_once_and_stay_readable(pg_engine: AsyncEngine) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(pg_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(50)])
    await register_region(pg_engine, "eu")
    yesterday = NOON - timedelta(days=1)
    for minute in range(20):
        at = yesterday + timedelta(minutes=minute)
        await write_ticks(pg_engine, "eu", [tick(site, at) for site in sites])
    config = RetentionConfig()
    # Today is still open; yesterday closed more than an hour ago at noon.
    done = (await compact_closed_partitions(pg_engine, NOON, config)).partitions
    assert done == [partitions.partition_name(yesterday.date())]
    compacted = {p.name for p in await partitions.list_partitions(pg_engine) if p.compacted}
    assert compacted == set(done)
    assert await compact_closed_partitions(pg_engine, NOON, config) == Compacted([], [])
    assert await count_ticks(pg_engine) == 1000
    # Deduplication still holds on the rebuilt index.
    again = await write_ticks(pg_engine, "eu", [tick(sites[0], yesterday)])
    assert again.inserted == 0


async def invalid_indexes(engine: AsyncEngine) -> list[str]:
    """Return the invalid indexes on tick partitions."""
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_inherits h ON h.inhrelid = x.indrelid "
            "WHERE h.inhparent = 'website_tick'::regclass AND NOT x.indisvalid"
        )
        return sorted(rows.scalars())


async def reindexing(engine: AsyncEngine, waiting: bool = False) -> int:
    """Return how many backends run a REINDEX (only those waiting for a lock if waiting)."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'REINDEX%' "
                "AND state = 'active' AND (NOT :waiting OR wait_event_type = 'Lock')"
            ),
            {"waiting": waiting},
        )
        return int(found or 0)


@contextlib.asynccontextmanager
async def writer_in_progress(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Hold a writer's lock on table: REINDEX CONCURRENTLY waits for it after its first step."""
    async with engine.connect() as conn, conn.begin():
        await conn.exec_driver_sql(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
        yield


async def test_an_interrupted_compaction_leaves_nothing_the_next_one_does_not_undo(
    pg_engine: AsyncEngine,
) -> None:
    site = await one_site(pg_engine)
    day = NOON - timedelta(days=2)
    await write_ticks(pg_engine, "eu", [tick(site, day + timedelta(minutes=m)) for m in range(5)])
    name = partitions.partition_name(day.date())
    config = RetentionConfig()
    async with writer_in_progress(pg_engine, name):
        run = asyncio.create_task(compact_closed_partitions(pg_engine, NOON, config))

        async def stuck() -> bool:
            return await reindexing(pg_engine, waiting=True) == 1

        await wait_for(stuck, 20, "REINDEX CONCURRENTLY to wait for the writer")
        # The new copy of the index exists from the first step on, invalid until built.
        assert await invalid_indexes(pg_engine) == [f"{name}_pkey_ccnew"]
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(run, 10)
        # The statement itself was cancelled, not only the task waiting for it.
        assert await reindexing(pg_engine) == 0
    assert await invalid_indexes(pg_engine) == [f"{name}_pkey_ccnew"]
    assert name not in {p.name for p in await partitions.list_partitions(pg_engine) if p.compacted}
    # The next run drops the leftover, then packs the day.
    again = await compact_closed_partitions(pg_engine, NOON, config)
    assert again == Compacted([name], [f"{name}_pkey_ccnew"])
    assert await invalid_indexes(pg_engine) == []
    assert await count_ticks(pg_engine) == 5
    assert (await write_ticks(pg_engine, "eu", [tick(site, day)])).inserted == 0


async def test_housekeeping_runs_every_step_and_survives_a_failing_one(
    pg_engine: AsyncEngine,
) -> None:
    calls: list[str] = []

    async def broken(now: datetime) -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    async def fine(now: datetime) -> int:
        calls.append("fine")
        return 1

    stop = asyncio.Event()
    config = RetentionConfig(tick_retention_days=1)
    steps = [
        Step(name="broken", every_seconds=0.05, run=broken),
        Step(name="fine", every_seconds=0.05, run=fine),
    ]
    loop = Housekeeping([*steps, *retention_steps(pg_engine, config, 60)])
    site = await one_site(pg_engine)
    await write_ticks(pg_engine, "eu", [tick(site, NOON - timedelta(days=5))])
    old_day = partitions.partition_name((NOON - timedelta(days=5)).date())
    task = asyncio.create_task(loop.run(stop))

    async def every_step_ran() -> bool:
        # The retention steps too: today and 3 days ahead exist, the old day is dropped.
        return (
            calls.count("broken") >= 1
            and calls.count("fine") >= 3
            and {0, 1, 2, 3} <= await attached_days(pg_engine)
            and old_day not in {p.name for p in await partitions.list_partitions(pg_engine)}
        )

    # Polled, not slept: a stop cancels the steps in progress, and on a loaded machine
    # dropping a day can take longer than any fixed sleep.
    await wait_for(every_step_ran, 20, "every step to have run")
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await count_ticks(pg_engine) == 0


@pytest.mark.parametrize("age_days", [0, 1])
async def test_ticks_of_a_day_are_counted_where_they_were_scheduled(
    engine: AsyncEngine, age_days: int
) -> None:
    # A check scheduled just before midnight and finished after it belongs to its slot's
    # day: the partition key is scheduled_at, identical on redelivery.
    site = await one_site(engine)
    midnight = datetime.combine(NOON.date(), datetime.min.time(), tzinfo=UTC)
    slot = midnight - timedelta(days=age_days, milliseconds=500)
    row = tick(site, slot)
    row.checked_at = slot + timedelta(seconds=2)
    assert (await write_ticks(engine, "eu", [row])).inserted == 1
    assert (await write_ticks(engine, "eu", [row])).inserted == 0
    (stored,) = await ticks(engine)
    assert (stored.scheduled_at, stored.checked_at) == (slot, slot + timedelta(seconds=2))


async def test_the_pusher_process_runs_housekeeping(
    pg_engine: AsyncEngine,
    fresh_postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    site = await one_site(pg_engine)
    await write_ticks(pg_engine, "eu", [tick(site, NOON - timedelta(days=40))])
    ahead = partitions.partition_name(NOON.date() + timedelta(days=3))
    async with pg_engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP TABLE {ahead}")
    assert 3 not in await attached_days(pg_engine)
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{redis_prefix}Websites",
        "TICK_RETENTION_DAYS": "30",
        "LOG_LEVEL": "INFO",
    }
    proc = spawn(["pusher"], env, tmp_path / "pusher.log")
    try:
        await wait_for_log(proc, tmp_path / "pusher.log", '"housekeeping started"')

        async def housekept() -> bool:
            days = await attached_days(pg_engine)
            return 3 in days and -40 not in days

        await wait_for(housekept, 20, "the pusher's housekeeping to make and drop partitions")
    finally:
        code = await stop_process(proc)
    output = (tmp_path / "pusher.log").read_text()
    assert code == 0, output
    assert await count_ticks(pg_engine) == 0
    assert '"housekeeping stopped"' in output


async def test_a_stop_during_a_long_housekeeping_step_ends_the_pusher_within_seconds(
    pg_engine: AsyncEngine,
    fresh_postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    # Two days ago is closed for over an hour whatever the time of day, so the pusher's
    # first housekeeping round packs it; a writer the test holds keeps that REINDEX
    # waiting as long as the test likes, like the REINDEX of a very big day.
    site = await one_site(pg_engine)
    day = datetime.now(UTC) - timedelta(days=2)
    await write_ticks(pg_engine, "eu", [tick(site, day)])
    name = partitions.partition_name(day.date())
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{redis_prefix}Websites",
        "LOG_LEVEL": "INFO",
    }
    async with writer_in_progress(pg_engine, name):
        proc = spawn(["pusher"], env, tmp_path / "pusher.log")
        try:
            await wait_for_log(proc, tmp_path / "pusher.log", '"housekeeping started"')

            async def stuck() -> bool:
                return await reindexing(pg_engine, waiting=True) == 1

            await wait_for(stuck, 20, "the pusher's REINDEX to wait for the writer")
        finally:
            asked = time.monotonic()
            code = await stop_process(proc)
            took = time.monotonic() - asked
        output = (tmp_path / "pusher.log").read_text()
        assert code == 0, output
        # Exit code 0 shows it did not wait for the step (blocked until the writer ends):
        # stop_process kills it after 15 s. The stop takes 0.4 s here idle, 5 s with the
        # CPU starved by busy loops at a higher priority.
        assert took < 10, f"{took:.1f} s to stop\n{output}"
        assert '"housekeeping step interrupted by the stop"' in output
        assert '"housekeeping stopped"' in output
        # Cancelled on the server too: gone before the writer it waited for ends.
        assert await reindexing(pg_engine) == 0
    packed = await compact_closed_partitions(pg_engine, datetime.now(UTC), RetentionConfig())
    assert name in packed.partitions
    assert await invalid_indexes(pg_engine) == []
