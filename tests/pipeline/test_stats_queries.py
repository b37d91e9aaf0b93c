"""db.stats against a brute-force count of raw ticks, at a fixed `now`, on both databases.

Covers the shared interface (window_stats, success_ratios, daily_history,
hourly_response_times): exact counts, percentiles within a bucket, rollups lagging
behind, and a number of queries that does not depend on how many websites are asked.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db import stats
from betteruptime.db.rollups import RollupConfig, roll_up
from betteruptime.db.session import create_sessionmaker
from betteruptime.rules.histogram import bucket_bounds, bucket_of, nearest_rank
from betteruptime.rules.rollup import DAY, HOUR, floor_day, floor_hour
from tests.history import RawTick, add_region, insert_ticks, random_ticks, totals_of, website_refs
from tests.pipeline.helpers import create_user, create_websites

NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """Return a session on the test's engine."""
    async with create_sessionmaker(engine)() as s:
        yield s


async def _fill(
    engine: AsyncEngine, websites: int, start: datetime, *, seed: int = 1, density: float = 0.3
) -> tuple[list[uuid.UUID], list[int], dict[str, int], list[RawTick]]:
    owner = await create_user(engine)
    ids = await create_websites(engine, owner, [f"https://s{i}.example/" for i in range(websites)])
    refs = await website_refs(engine, ids)
    regions = {name: await add_region(engine, name) for name in ("ap-south", "eu-west")}
    ticks = random_ticks(
        random.Random(seed), refs, list(regions.values()), start, NOW, density=density
    )
    await insert_ticks(engine, ticks)
    return ids, refs, regions, ticks


def _assert_close(estimate: float | None, values: list[int], q: float) -> None:
    assert estimate is not None
    exact = sorted(values)[nearest_rank(q, len(values)) - 1]
    low, high = bucket_bounds(bucket_of(exact))
    assert abs(estimate - exact) <= (max(values) if high is None else high) - low


@pytest.mark.parametrize("lag_hours", [0, 2])
async def test_window_stats_match_a_brute_force_count(
    engine: AsyncEngine, session: AsyncSession, lag_hours: int
) -> None:
    ids, refs, regions, ticks = await _fill(engine, 2, NOW - 3 * DAY, density=0.2)
    # lag_hours: housekeeping last ran that long ago, the hours since are read raw.
    await roll_up(engine, NOW - lag_hours * HOUR, RollupConfig())
    window = timedelta(days=2)
    result = await stats.window_stats(session, ids[0], window, NOW)
    start = floor_hour(NOW - window)
    assert (result.start, result.end, result.window) == (start, NOW, window)
    mine = [t for t in ticks if t.website_ref == refs[0] and t.scheduled_at >= start]
    expected = totals_of(mine)
    assert (result.checks, result.failures) == (expected.checks, expected.failures)
    assert result.success_ratio == pytest.approx(expected.success_ratio)
    assert result.response_time.avg_ms == pytest.approx(expected.avg_ms)
    assert result.response_time.max_ms == expected.rt_max
    times = [t.response_time_ms for t in mine if t.response_time_ms is not None]
    for q, value in (
        (0.5, result.response_time.p50_ms),
        (0.95, result.response_time.p95_ms),
        (0.99, result.response_time.p99_ms),
    ):
        _assert_close(value, times, q)
    assert [r.region_id for r in result.regions] == ["ap-south", "eu-west"]
    for region in result.regions:
        part = totals_of(t for t in mine if t.region_ref == regions[region.region_id])
        assert (region.checks, region.failures) == (part.checks, part.failures)
        assert region.response_time.max_ms == part.rt_max


async def test_success_ratios_of_several_websites(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    ids, refs, _, ticks = await _fill(engine, 3, NOW - 30 * HOUR)
    await roll_up(engine, NOW, RollupConfig())
    owner = await create_user(engine)
    (quiet,) = await create_websites(engine, owner, ["https://quiet.example/"])
    unknown = uuid.uuid4()
    ratios = await stats.success_ratios(session, [*ids, quiet, unknown], timedelta(hours=24), NOW)
    start = floor_hour(NOW - timedelta(hours=24))
    for website_id, ref in zip(ids, refs, strict=True):
        expected = totals_of(t for t in ticks if t.website_ref == ref and t.scheduled_at >= start)
        assert ratios[website_id] == pytest.approx(expected.success_ratio)
    assert ratios[quiet] is None
    assert ratios[unknown] is None


@pytest.mark.parametrize("lag_hours", [0, 2])
async def test_daily_history_matches_a_brute_force_count_per_day(
    engine: AsyncEngine, session: AsyncSession, lag_hours: int
) -> None:
    ids, refs, _, ticks = await _fill(engine, 2, NOW - 6 * DAY, density=0.1)
    await roll_up(engine, NOW - lag_hours * HOUR, RollupConfig())
    history = await stats.daily_history(session, ids, 8, NOW)
    today = floor_day(NOW)
    for website_id, ref in zip(ids, refs, strict=True):
        days = history[website_id]
        assert [d.date for d in days] == [(today - n * DAY).date() for n in range(7, -1, -1)]
        for day in days:
            mine = [
                t
                for t in ticks
                if t.website_ref == ref and floor_day(t.scheduled_at).date() == day.date
            ]
            expected = totals_of(mine)
            assert (day.checks, day.failures) == (expected.checks, expected.failures), day
            assert day.success_ratio == pytest.approx(expected.success_ratio)
            assert day.avg_ms == pytest.approx(expected.avg_ms)
            if expected.rt_count:
                times = [t.response_time_ms for t in mine if t.response_time_ms is not None]
                _assert_close(day.p95_ms, times, 0.95)
    assert history[ids[0]][0].checks == 0  # seven days back: before the first tick


@pytest.mark.parametrize(("region_count", "lag_hours"), [(1, 0), (2, 0), (2, 2)])
async def test_daily_uptime_counts_what_daily_history_counts(
    engine: AsyncEngine, session: AsyncSession, region_count: int, lag_hours: int
) -> None:
    # One region is PostgreSQL's fast path (each website's days as they come); two make
    # every day appear twice in a website's arrays, to be summed.
    owner = await create_user(engine)
    ids = await create_websites(engine, owner, [f"https://u{i}.example/" for i in range(3)])
    refs = await website_refs(engine, ids)
    regions = [await add_region(engine, f"r{n}") for n in range(region_count)]
    # Ticks on every day of the window, from its first midnight on.
    start = floor_day(NOW) - 6 * DAY
    ticks = random_ticks(random.Random(7), refs[:2], regions, start, NOW, density=0.1)
    await insert_ticks(engine, ticks)
    await roll_up(engine, NOW - lag_hours * HOUR, RollupConfig())
    full = await stats.daily_history(session, ids, 7, NOW)
    light = await stats.daily_uptime(session, ids, 7, NOW)
    for website_id in ids:
        days = full[website_id]
        assert light[website_id].first == days[0].date == start.date()
        assert light[website_id].checks == [d.checks for d in days]
        assert light[website_id].failures == [d.failures for d in days]
    assert sum(light[ids[0]].checks) == len([t for t in ticks if t.website_ref == refs[0]])
    assert all(light[ids[0]].checks) and light[ids[2]].checks == [0] * 7  # ids[2]: no ticks
    assert (await stats.daily_uptime(session, ids, 0, NOW))[ids[0]].checks == []


async def test_daily_history_across_midnight_with_rollups_behind(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    owner = await create_user(engine)
    (website_id,) = await create_websites(engine, owner, ["https://late.example/"])
    (ref,) = await website_refs(engine, [website_id])
    region = await add_region(engine, "eu-west")
    just_after_midnight = floor_day(NOW) + timedelta(minutes=20)
    ticks = [
        RawTick(ref, region, floor_day(NOW) - timedelta(hours=5), 0, 10),  # rolled up
        RawTick(ref, region, floor_day(NOW) - timedelta(minutes=30), 1, None),  # raw, yesterday
        RawTick(ref, region, floor_day(NOW) + timedelta(minutes=5), 0, 30),  # raw, today
    ]
    await insert_ticks(engine, ticks)
    await roll_up(engine, floor_day(NOW) - timedelta(minutes=30), RollupConfig())
    history = (await stats.daily_history(session, [website_id], 2, just_after_midnight))[website_id]
    assert [(d.checks, d.failures) for d in history] == [(2, 1), (1, 0)]


async def test_hourly_response_times_are_hourly_means_oldest_first(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    ids, refs, _, ticks = await _fill(engine, 2, NOW - 10 * HOUR, density=0.4)
    await roll_up(engine, NOW - HOUR, RollupConfig())
    series = await stats.hourly_response_times(session, ids, 12, NOW)
    current = floor_hour(NOW)
    for website_id, ref in zip(ids, refs, strict=True):
        assert len(series[website_id]) == 12
        for i, value in enumerate(series[website_id]):
            hour = current - (11 - i) * HOUR
            times = [
                t.response_time_ms
                for t in ticks
                if t.website_ref == ref
                and floor_hour(t.scheduled_at) == hour
                and t.response_time_ms is not None
            ]
            if times:
                assert value == pytest.approx(sum(times) / len(times))
            else:
                assert value is None
    # Eleven hours back is before the first tick.
    assert series[ids[0]][0] is None


async def _queries(engine: AsyncEngine, call: Callable[[AsyncSession], Awaitable[object]]) -> int:
    """Return how many statements call sent to the database."""
    sent = 0

    def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with create_sessionmaker(engine)() as s:
            await call(s)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return sent


async def _with(
    call: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[object]],
    ids: list[uuid.UUID],
    session: AsyncSession,
) -> object:
    return await call(session, ids)


async def test_the_number_of_queries_does_not_grow_with_the_number_of_websites(
    engine: AsyncEngine,
) -> None:
    ids, _, _, _ = await _fill(engine, 30, NOW - 3 * HOUR, density=0.05)
    await roll_up(engine, NOW - HOUR, RollupConfig())
    year = timedelta(days=365)
    calls: dict[str, Callable[[AsyncSession, list[uuid.UUID]], Awaitable[object]]] = {
        "success_ratios": lambda s, chosen: stats.success_ratios(s, chosen, year, NOW),
        "daily_history": lambda s, chosen: stats.daily_history(s, chosen, 365, NOW),
        "daily_uptime": lambda s, chosen: stats.daily_uptime(s, chosen, 90, NOW),
        "hourly_response_times": lambda s, chosen: stats.hourly_response_times(s, chosen, 48, NOW),
    }
    for name, call in calls.items():
        one = await _queries(engine, partial(_with, call, ids[:1]))
        many = await _queries(engine, partial(_with, call, ids))
        assert one == many <= 6, name
    assert await _queries(engine, lambda s: stats.window_stats(s, ids[0], year, NOW)) <= 6
