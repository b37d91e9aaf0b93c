"""Benchmark 9: GET /website/{id}/stats?window=365d with a year of rollups against a day.

The statistics are read from daily rows, the hourly rows of the partial days and the raw
ticks of the hour in progress, so a year of history must not show in their latency.
Rollup rows are filled directly in SQL (what housekeeping would have written); the raw
ticks of the hour in progress are real ticks.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.api import latencies, percentile, round_robin, start_api, token_for, wait_ready
from bench.env import Backends, backends
from bench.fill import add_users, add_websites
from bench.procs import running
from bench.results import Figure
from betteruptime.db.models import HISTOGRAM_COLUMNS
from betteruptime.db.partitions import create_statements
from betteruptime.db.rollups import PROGRESS_NAME
from betteruptime.rules.rollup import floor_hour

TARGET_RATIO = 1.5


@dataclass(frozen=True)
class Sizes:
    """Websites (10 per user), regions, days of rollups in the big case, and the load."""

    websites: int = 1_000
    regions: int = 2
    big_days: int = 365
    concurrency: int = 20
    seconds: float = 10.0


QUICK = Sizes(websites=20, regions=1, big_days=10, concurrency=4, seconds=1.0)

_DAILY_COLUMNS = (
    "checks",
    "failures",
    "degraded",
    "rt_count",
    "rt_sum",
    "rt_min",
    "rt_max",
    *HISTOGRAM_COLUMNS,
)
# Every hour of every website and region: 60 checks, 3 failed, response times spread over
# four buckets (108-400 ms) as a steady site's would be.
_HOURLY = """
INSERT INTO tick_rollup_hourly (website_ref, region_ref, hour, checks, failures, degraded,
                                rt_count, rt_sum, rt_min, rt_max, h17, h18, h19, h20)
SELECT w.ref, r.ref, h, 60, 3, 0, 57, 57 * 190, 110, 390, 10, 20, 20, 7
FROM website w CROSS JOIN region r
     CROSS JOIN generate_series($1::timestamptz, $2::timestamptz - interval '1 hour',
                                interval '1 hour') AS h
ORDER BY w.ref, r.ref, h
"""
# Days from their hours, as housekeeping derives them: every day before today.
_DAILY = f"""
INSERT INTO tick_rollup_daily
SELECT website_ref, region_ref, (hour AT TIME ZONE 'UTC')::date,
       sum(checks), sum(failures), sum(degraded), sum(rt_count), sum(rt_sum), min(rt_min),
       max(rt_max), {", ".join(f"sum({c})" for c in HISTOGRAM_COLUMNS)}
FROM tick_rollup_hourly
WHERE hour < $1
GROUP BY 1, 2, 3
ON CONFLICT (website_ref, region_ref, day) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in _DAILY_COLUMNS)}
"""  # noqa: S608 - fixed column names
_TICKS = """
INSERT INTO website_tick (scheduled_at, website_ref, delay_ms, response_time_ms, error_id,
                          region_ref, status, status_code)
SELECT t, w.ref, 40, 150 + (w.ref * 7 + extract(minute FROM t)::int * 13) % 200, NULL,
       r.ref, 0, 200
FROM website w CROSS JOIN region r
     CROSS JOIN generate_series($1::timestamptz, $2::timestamptz, interval '1 minute') AS t
ON CONFLICT DO NOTHING
"""


async def _rollups(conn: asyncpg.Connection, start: datetime, end: datetime) -> None:
    """Fill the hourly rows of [start, end), then the daily rows of every day before end's."""
    await conn.execute(_HOURLY, start, end)
    await conn.execute(_DAILY, end.replace(hour=0))


async def _fill(b: Backends, sizes: Sizes, current: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    conn = await b.pg()
    try:
        owners = await add_users(conn, max(1, sizes.websites // 10))
        await add_websites(
            conn,
            owners,
            "http://127.0.0.1:9",
            sizes.websites,
            interval=60,
            timeout=10,
            first_due=current + timedelta(days=1),
        )
        await conn.executemany(
            "INSERT INTO region (id, name) VALUES ($1, $1)",
            [(f"bench-{i}",) for i in range(sizes.regions)],
        )
        # The hour in progress, checked every minute so far, read raw by every request.
        for statement in create_statements(current.date()):
            await conn.execute(statement)
        await conn.execute(_TICKS, current, datetime.now(UTC))
        # A day of rollups, up to the hour in progress: housekeeping is up to date.
        await _rollups(conn, current - timedelta(days=1), current)
        await conn.execute(
            "INSERT INTO rollup_progress (name, rolled_until) VALUES ($1, $2)",
            PROGRESS_NAME,
            current,
        )
        await conn.execute("VACUUM ANALYZE")
        rows = await conn.fetch("SELECT id, owner_id FROM website")
    finally:
        await conn.close()
    return [(r["id"], r["owner_id"]) for r in rows]


async def _grow(
    b: Backends, sizes: Sizes, current: datetime
) -> tuple[dict[str, tuple[int, float]], float]:
    """Add the rest of the rollups; return (rows, bytes per row) of each table and seconds."""
    conn = await b.pg()
    try:
        started = time.monotonic()
        await _rollups(conn, current - timedelta(days=sizes.big_days), current - timedelta(days=1))
        await conn.execute("VACUUM ANALYZE")
        elapsed = time.monotonic() - started
        sizes_found = {}
        for table in ("tick_rollup_hourly", "tick_rollup_daily"):
            rows = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            size = int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table))
            sizes_found[table] = (rows, size / max(rows, 1))
    finally:
        await conn.close()
    return sizes_found, elapsed


async def _measure(
    base_url: str, websites: list[tuple[uuid.UUID, uuid.UUID]], sizes: Sizes
) -> list[float]:
    rng = random.Random(8)
    tokens: dict[uuid.UUID, str] = {}
    requests = []
    for website_id, owner in rng.sample(websites, min(len(websites), 2000)):
        token = tokens.setdefault(owner, token_for(owner))
        requests.append(
            (
                f"{base_url}/website/{website_id}/stats?window=365d",
                {"Authorization": f"Bearer {token}"},
            )
        )
    # A short warm-up first: the API's connection pool and PostgreSQL's cache.
    await latencies(
        round_robin(requests), concurrency=sizes.concurrency, seconds=min(1.0, sizes.seconds)
    )
    return await latencies(
        round_robin(requests), concurrency=sizes.concurrency, seconds=sizes.seconds
    )


async def run(sizes: Sizes) -> list[Figure]:
    """Return the p99 latency of a 365-day stats read with a year of rollups, against a day."""
    current = floor_hour(datetime.now(UTC))
    async with backends("stats") as b:
        websites = await _fill(b, sizes, current)
        async with running() as procs:
            _, base_url = start_api(b, procs)
            await wait_ready(base_url, procs)
            small = await _measure(base_url, websites, sizes)
            tables, fill_seconds = await _grow(b, sizes, current)
            big = await _measure(base_url, websites, sizes)
    p99_small = percentile(small, 0.99) * 1000
    p99_big = percentile(big, 0.99) * 1000
    ratio = p99_big / p99_small
    return [
        Figure(
            benchmark="9 stats reads",
            name=f"GET /website/{{id}}/stats?window=365d p99, {sizes.big_days} days of rollups",
            value=p99_big,
            unit="ms",
            target=f"<= {TARGET_RATIO} x p99 with 1 day of rollups",
            met=ratio <= TARGET_RATIO,
            baseline=p99_small,
            baseline_name="1 day of rollups",
            ratio=ratio,
            details={
                "p50_ms_big": round(percentile(big, 0.5) * 1000, 2),
                "p50_ms_small": round(percentile(small, 0.5) * 1000, 2),
                "requests_big": len(big),
                "requests_small": len(small),
                "requests_per_second_big": round(len(big) / sizes.seconds),
                "requests_per_second_small": round(len(small) / sizes.seconds),
                "concurrency": sizes.concurrency,
                "websites": len(websites),
                "regions": sizes.regions,
                "hourly_rows_big": tables["tick_rollup_hourly"][0],
                "daily_rows_big": tables["tick_rollup_daily"][0],
                # On disk, indexes included: what sizing rollups needs.
                "hourly_bytes_per_row": round(tables["tick_rollup_hourly"][1], 1),
                "daily_bytes_per_row": round(tables["tick_rollup_daily"][1], 1),
                "rollup_fill_seconds": round(fill_seconds, 1),
            },
        )
    ]
