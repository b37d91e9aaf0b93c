"""Batch tick writes (invariant 2) and claiming due websites, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.models import Region, Website, WebsiteStatus
from betteruptime.db.schedule import claim_due, next_due_at
from betteruptime.db.ticks import (
    SPLIT_FROM_ROWS,
    HeldConnections,
    TickRow,
    WriteResult,
    register_region,
    write_ticks,
)
from betteruptime.rules.status import Status
from tests.pipeline.helpers import create_user, create_websites, ticks, wait_for


def row(website_id: uuid.UUID, status: Status, at: datetime) -> TickRow:
    """Return the result of the job scheduled one second before at, checked at at."""
    return TickRow(
        website_id=website_id,
        status=status,
        status_code=200 if status is Status.UP else 503,
        response_time_ms=12,
        error=None if status is Status.UP else "status 503",
        scheduled_at=at - timedelta(seconds=1),
        checked_at=at,
    )


async def status_row(engine: AsyncEngine, website_id: uuid.UUID) -> WebsiteStatus:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(WebsiteStatus.__table__).where(WebsiteStatus.website_id == website_id)
        )
        return WebsiteStatus(**result.one()._mapping)


async def test_register_region_is_idempotent_and_race_safe(engine: AsyncEngine) -> None:
    created = await asyncio.gather(*(register_region(engine, "eu-west-1") for _ in range(5)))
    assert sum(created) == 1
    assert await register_region(engine, "eu-west-1") is False
    async with engine.connect() as conn:
        assert (await conn.execute(select(Region.id))).scalars().all() == ["eu-west-1"]


async def test_redelivered_message_is_a_no_op_insert(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"])
    await register_region(engine, "eu")
    await register_region(engine, "us")
    t0 = datetime.now(UTC)
    first = await write_ticks(engine, "eu", [row(site, Status.UP, t0)])
    again = await write_ticks(engine, "eu", [row(site, Status.UP, t0)])
    other_region = await write_ticks(engine, "us", [row(site, Status.UP, t0)])
    assert (first.inserted, again.inserted, other_region.inserted) == (1, 0, 1)
    assert len(await ticks(engine)) == 2


async def test_status_keeps_changed_at_until_a_flip_and_ignores_older_results(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"])
    await register_region(engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    await write_ticks(engine, "eu", [row(site, Status.UP, t0)])
    await write_ticks(engine, "eu", [row(site, Status.UP, t0 + timedelta(seconds=10))])
    st = await status_row(engine, site)
    assert (st.status, st.checked_at, st.changed_at) == (Status.UP, t0 + timedelta(seconds=10), t0)

    await write_ticks(engine, "eu", [row(site, Status.DOWN, t0 + timedelta(seconds=20))])
    st = await status_row(engine, site)
    assert (st.status, st.changed_at, st.error) == (
        Status.DOWN,
        t0 + timedelta(seconds=20),
        "status 503",
    )

    # A late result (claimed from a dead worker) is stored as a tick but is not "latest".
    late = await write_ticks(engine, "eu", [row(site, Status.UP, t0 + timedelta(seconds=15))])
    assert late.inserted == 1
    st = await status_row(engine, site)
    assert (st.status, st.checked_at) == (Status.DOWN, t0 + timedelta(seconds=20))

    # Two results of one website in one batch: the newest wins.
    await write_ticks(
        engine,
        "eu",
        [
            row(site, Status.UP, t0 + timedelta(seconds=40)),
            row(site, Status.DOWN, t0 + timedelta(seconds=30)),
        ],
    )
    st = await status_row(engine, site)
    assert (st.status, st.checked_at, st.changed_at) == (
        Status.UP,
        t0 + timedelta(seconds=40),
        t0 + timedelta(seconds=40),
    )


async def test_a_deleted_website_does_not_fail_the_batch(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    kept, gone = await create_websites(
        engine, owner, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    )
    await register_region(engine, "eu")
    async with engine.begin() as conn:
        await conn.execute(delete(Website).where(Website.id == gone))
    now = datetime.now(UTC)
    result = await write_ticks(
        engine,
        "eu",
        [row(kept, Status.UP, now), row(gone, Status.UP, now)],
    )
    assert result.inserted == 1
    assert [t.website_id for t in await ticks(engine)] == [kept]


async def test_a_write_failing_inside_postgresql_is_a_database_fault(
    pg_engine: AsyncEngine,
) -> None:
    owner = await create_user(pg_engine)
    (site,) = await create_websites(pg_engine, owner, ["http://127.0.0.1:1/"])
    await register_region(pg_engine, "eu")
    now = datetime.now(UTC)
    async with pg_engine.connect() as holder:
        # A website row locked FOR UPDATE (as a deletion does) makes the writer wait ...
        await holder.execute(select(Website.id).where(Website.id == site).with_for_update())
        write = asyncio.create_task(write_ticks(pg_engine, "eu", [row(site, Status.UP, now)]))

        # ... and its statement is cancelled: the worker must see a fault it retries, not
        # the driver's own exception (which would end the worker).
        await wait_for(
            lambda: _cancel_a_lock_waiter(pg_engine), 10, "the writer to wait for the website row"
        )
        with pytest.raises(DATABASE_FAULTS):
            await write
        await holder.rollback()
    assert (await write_ticks(pg_engine, "eu", [row(site, Status.UP, now)])).inserted == 1


def _mixed_batch(sites: list[uuid.UUID], t0: datetime) -> list[TickRow]:
    """Return four results of each site a minute apart: some failures, some recoveries."""
    return [
        row(site, Status.DOWN if (i + m) % 3 == 0 else Status.UP, t0 + timedelta(minutes=m))
        for m in range(4)
        for i, site in enumerate(sites)
    ]


async def _states(engine: AsyncEngine, region: str) -> dict[uuid.UUID, tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(WebsiteStatus.__table__).where(WebsiteStatus.region_id == region)
        )
        return {
            r.website_id: (r.status, r.error, r.checked_at, r.changed_at, r.streak) for r in rows
        }


async def test_a_batch_written_in_halves_stores_what_one_statement_stores(
    pg_engine: AsyncEngine,
) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(pg_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(120)])
    await register_region(pg_engine, "one")
    await register_region(pg_engine, "halves")
    t0 = datetime.now(UTC).replace(microsecond=0)
    for start in (t0, t0 + timedelta(minutes=10)):
        batch = _mixed_batch(sites, start)
        assert len(batch) >= SPLIT_FROM_ROWS
        whole = await write_ticks(pg_engine, "one", batch, split_from=len(batch) + 1)
        halves = await write_ticks(pg_engine, "halves", batch)
        assert whole == halves == WriteResult(len(batch), len(sites))
    assert await _states(pg_engine, "one") == await _states(pg_engine, "halves")
    stored = await ticks(pg_engine)
    by_region = {
        region: sorted((t.job_key, t.status, t.checked_at) for t in stored if t.region_id == region)
        for region in ("one", "halves")
    }
    assert by_region["one"] == by_region["halves"]
    assert len(by_region["one"]) == 2 * 4 * len(sites)


async def test_a_batch_retried_after_half_of_it_was_stored_counts_each_tick_once(
    pg_engine: AsyncEngine,
) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(
        pg_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(SPLIT_FROM_ROWS)]
    )
    await register_region(pg_engine, "eu")
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [row(site, Status.DOWN, now) for site in sites]
    async with pg_engine.connect() as holder:
        # One website row locked (as a deletion would) holds back the half holding it;
        # its statement is then cancelled, while the other half commits.
        await holder.execute(select(Website.id).where(Website.id == sites[0]).with_for_update())
        write = asyncio.create_task(write_ticks(pg_engine, "eu", batch))

        await wait_for(
            lambda: _cancel_a_lock_waiter(pg_engine),
            10,
            "half of the batch to wait for the website row",
        )
        with pytest.raises(DATABASE_FAULTS):
            await write
        await holder.rollback()
    stored = len(await ticks(pg_engine))
    assert 0 < stored < len(batch)

    # The writer retries the whole batch: the stored half is skipped and moves no state.
    again = await write_ticks(pg_engine, "eu", batch)
    assert again.inserted == len(batch) - stored
    assert len(await ticks(pg_engine)) == len(batch)
    states = await _states(pg_engine, "eu")
    assert {state[-1] for state in states.values()} == {1}
    assert len(states) == len(sites)


async def test_a_message_twice_in_one_batch_is_stored_and_counted_once(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    site, other = await create_websites(
        engine, owner, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    )
    await register_region(engine, "eu")
    now = datetime.now(UTC).replace(microsecond=0)
    first = row(site, Status.DOWN, now)
    # The same job checked twice (a redelivery that arrived before the first copy was
    # written): on PostgreSQL the batch's plain inserts fail and it is written again
    # skipping the second copy.
    again = dataclasses.replace(first, checked_at=now + timedelta(seconds=3))
    result = await write_ticks(engine, "eu", [first, again, row(other, Status.UP, now)])
    assert (result.inserted, result.status_updated) == (2, 2)
    stored = sorted((t.job_key, t.checked_at) for t in await ticks(engine))
    assert len(stored) == 2
    assert (await status_row(engine, site)).streak == 1


async def test_held_connections_replace_a_lost_connection_and_go_back_to_the_pool(
    pg_engine: AsyncEngine,
) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(
        pg_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(SPLIT_FROM_ROWS)]
    )
    await register_region(pg_engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    pool: Any = pg_engine.sync_engine.pool
    held = HeldConnections(pg_engine)
    try:
        await write_ticks(pg_engine, "eu", [row(s, Status.UP, t0) for s in sites], held=held)
        # Both halves' connections stay checked out between batches.
        assert pool.checkedout() == 2
        async with pg_engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state = 'idle'"
                )
            )
        assert killed >= 2
        batch = [row(s, Status.DOWN, t0 + timedelta(minutes=1)) for s in sites]
        # A connection lost while held fails at most one write, which the writer retries.
        for _ in range(2):
            try:
                await write_ticks(pg_engine, "eu", batch, held=held)
                break
            except DATABASE_FAULTS:
                continue
        else:
            raise AssertionError("the write failed again on fresh connections")
        assert len(await ticks(pg_engine)) == 2 * len(sites)
        assert {(await status_row(pg_engine, s)).status for s in sites[:4]} == {Status.DOWN}
    finally:
        await held.close()
    assert pool.checkedout() == 0


async def test_writers_of_one_region_with_overlapping_batches_do_not_deadlock(
    pg_engine: AsyncEngine,
) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(pg_engine, owner, [f"http://127.0.0.1:1/{i}" for i in range(450)])
    await register_region(pg_engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    # Six writers at once, each over the same websites from a different start, three of
    # them large enough to be split, three small: batches of different sizes get
    # differently shaped plans, whose joins lock status rows in different orders.
    sizes = [450, 30, 420, 60, 440, 300]
    for round_ in range(8):
        batches = [
            [
                row(site, Status.UP, t0 + timedelta(minutes=round_, seconds=w))
                for site in (sites[w * 70 :] + sites[: w * 70])[:size]
            ]
            for w, size in enumerate(sizes)
        ]
        results = await asyncio.gather(*(write_ticks(pg_engine, "eu", b) for b in batches))
        assert [r.inserted for r in results] == sizes
    assert len(await ticks(pg_engine)) == 8 * sum(sizes)


async def test_claim_moves_due_websites_forward_by_their_own_interval(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    now = datetime.now(UTC)
    on_time = now - timedelta(seconds=2)
    (a,) = await create_websites(engine, owner, ["http://a/"], interval=30, next_check_at=on_time)
    (b,) = await create_websites(
        engine, owner, ["http://b/"], interval=10, next_check_at=now - timedelta(hours=3)
    )
    await create_websites(engine, owner, ["http://c/"], next_check_at=now + timedelta(minutes=1))
    await create_websites(engine, owner, ["http://d/"], next_check_at=on_time, enabled=False)

    async with claim_due(engine, now, 100) as due:
        pass
    by_id = {d.id: d for d in due}
    assert set(by_id) == {a, b}
    # On time: the slot is kept, the next one is exactly one interval later.
    assert abs(by_id[a].scheduled_at - on_time) < timedelta(milliseconds=5)
    assert abs(by_id[a].next_check_at - (on_time + timedelta(seconds=30))) < timedelta(
        milliseconds=5
    )
    # Far behind: one check now and the next one interval later, no catch-up burst.
    assert abs(by_id[b].scheduled_at - now) < timedelta(milliseconds=5)
    assert abs(by_id[b].next_check_at - (now + timedelta(seconds=10))) < timedelta(milliseconds=5)

    async with claim_due(engine, now, 100) as again:
        pass
    assert again == []
    assert await next_due_at(engine) is not None


async def test_claim_is_bounded_and_rolled_back_when_enqueueing_fails(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    await create_websites(engine, owner, [f"http://x/{i}" for i in range(7)])
    now = datetime.now(UTC) + timedelta(seconds=1)
    with pytest.raises(RuntimeError):
        async with claim_due(engine, now, 5) as due:
            assert len(due) == 5
            raise RuntimeError("redis went away")
    seen = set()
    for _ in range(2):
        async with claim_due(engine, now, 5) as due:
            seen |= {d.id for d in due}
    assert len(seen) == 7


async def test_next_due_at_ignores_disabled_websites(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    assert await next_due_at(engine) is None
    soon = datetime.now(UTC) + timedelta(seconds=5)
    (site,) = await create_websites(engine, owner, ["http://a/"], next_check_at=soon)
    await create_websites(engine, owner, ["http://b/"], next_check_at=soon, enabled=False)
    found = await next_due_at(engine)
    assert found is not None and abs(found - soon) < timedelta(milliseconds=5)
    async with engine.begin() as conn:
        await conn.execute(update(Website).where(Website.id == site).values(enabled=False))
    assert await next_due_at(engine) is None


async def _cancel_a_lock_waiter(engine: AsyncEngine) -> bool:
    """Return True when a session waiting for a lock was found and its statement cancelled."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        if found is not None:
            await conn.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": found})
    return found is not None
