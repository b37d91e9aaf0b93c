"""The batch write keeps per-region streaks, queues evaluations and brings rechecks forward."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import Evaluation, Website
from betteruptime.db.ticks import StreakOptions, register_region, write_ticks
from betteruptime.rules.status import Status
from tests.pipeline.helpers import create_user, create_websites
from tests.pipeline.test_ticks_and_schedule import row, status_row

OPTIONS = StreakOptions(confirmation_checks=2, recovery_checks=3, recheck_seconds=10)


async def _queued(engine: AsyncEngine) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(Evaluation.website_id))).scalars())


async def _drain(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(Evaluation))


async def _next_check(engine: AsyncEngine, website_id: uuid.UUID) -> datetime:
    async with engine.connect() as conn:
        value = await conn.scalar(select(Website.next_check_at).where(Website.id == website_id))
    assert value is not None
    return value


async def test_streak_counts_consecutive_checks_and_restarts_on_a_flip(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"])
    await register_region(engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    statuses = [Status.UP, Status.UP, Status.DOWN, Status.DOWN, Status.DOWN, Status.UP]
    expected = [(1, 0), (2, 0), (1, 2), (2, 2), (3, 2), (1, 5)]
    for i, (status, (streak, start)) in enumerate(zip(statuses, expected, strict=True)):
        at = t0 + timedelta(seconds=10 * i)
        await write_ticks(engine, "eu", [row(site, status, at)], OPTIONS)
        st = await status_row(engine, site)
        assert (st.status, st.streak) == (status, streak), i
        assert st.streak_started_at == t0 + timedelta(seconds=10 * start), i

    # An older result arriving late changes nothing, streak included.
    await write_ticks(engine, "eu", [row(site, Status.DOWN, t0)], OPTIONS)
    st = await status_row(engine, site)
    assert (st.status, st.streak) == (Status.UP, 1)


async def test_a_redelivered_message_moves_no_state_even_when_checked_again(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    site, other = await create_websites(
        engine, owner, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    )
    await register_region(engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    first = row(site, Status.DOWN, t0)
    await write_ticks(engine, "eu", [first], OPTIONS)
    await _drain(engine)

    # The same job claimed by another worker and checked again: a later checked_at, the
    # same slot. Retried together with a new result of another website (a batch whose
    # first attempt stored part of it, or a message delivered twice).
    again = dataclasses.replace(first, checked_at=t0 + timedelta(seconds=5))
    result = await write_ticks(engine, "eu", [again, row(other, Status.DOWN, t0)], OPTIONS)
    assert (result.inserted, result.status_updated) == (1, 1)
    st = await status_row(engine, site)
    assert (st.streak, st.checked_at) == (1, t0)
    assert await _queued(engine) == {other}
    assert (await status_row(engine, other)).streak == 1

    await write_ticks(engine, "eu", [row(site, Status.DOWN, t0 + timedelta(seconds=10))], OPTIONS)
    assert (await status_row(engine, site)).streak == 2


async def test_evaluations_are_queued_only_while_a_decision_may_change(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    steady, failing = await create_websites(
        engine, owner, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    )
    await register_region(engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    queued: list[set[uuid.UUID]] = []
    for i in range(5):
        at = t0 + timedelta(seconds=10 * i)
        await write_ticks(
            engine,
            "eu",
            [
                row(steady, Status.UP, at),
                row(failing, Status.UP if i < 4 else Status.DOWN, at),
            ],
            OPTIONS,
        )
        queued.append(await _queued(engine))
        await _drain(engine)
    # UP streaks 1..3 are within max(confirmation 2, recovery 3): queued; from the fourth
    # UP on, past every threshold, nothing is queued; any DOWN is always queued.
    assert queued == [
        {steady, failing},
        {steady, failing},
        {steady, failing},
        set(),
        {failing},
    ]


async def test_a_first_failure_brings_the_next_check_forward(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    (site,) = await create_websites(engine, owner, ["http://127.0.0.1:1/"], interval=300)
    await register_region(engine, "eu")
    t0 = datetime.now(UTC).replace(microsecond=0)
    far = t0 + timedelta(seconds=300)
    async with engine.begin() as conn:
        await conn.execute(update(Website).values(next_check_at=far))

    await write_ticks(engine, "eu", [row(site, Status.UP, t0)], OPTIONS)
    assert await _next_check(engine, site) == far  # a success changes nothing

    failed_at = t0 + timedelta(seconds=1)
    await write_ticks(engine, "eu", [row(site, Status.DOWN, failed_at)], OPTIONS)
    recheck = await _next_check(engine, site)
    assert abs((recheck - (failed_at + timedelta(seconds=10))).total_seconds()) < 0.01

    # Confirmed (streak 2 = confirmation_checks): the normal schedule resumes.
    async with engine.begin() as conn:
        await conn.execute(update(Website).values(next_check_at=far))
    await write_ticks(engine, "eu", [row(site, Status.DOWN, t0 + timedelta(seconds=10))], OPTIONS)
    assert await _next_check(engine, site) == far

    # Never later than the schedule: a check already due sooner stays sooner.
    soon = t0 + timedelta(seconds=12)
    async with engine.begin() as conn:
        await conn.execute(update(Website).values(next_check_at=t0 + timedelta(seconds=15)))
    await write_ticks(engine, "eu", [row(site, Status.UP, t0 + timedelta(seconds=11))], OPTIONS)
    await write_ticks(engine, "eu", [row(site, Status.DOWN, soon)], OPTIONS)
    assert await _next_check(engine, site) == t0 + timedelta(seconds=15)
