"""Benchmark: heartbeat ping ingestion through `betteruptime api` on PostgreSQL.

Closed loops GET /ping/{key} over keep-alive connections, each ping a real ingestion: the
key looked up, the heartbeat's deadline moved, and an UP tick plus the status row written
and committed before the answer. The baseline is the ceiling of this machine: the same
client against a bare ASGI app served as the API is (bench/bare_asgi.py), in the same run.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.api import Request, latencies, percentile, round_robin, start_api, wait_ready
from bench.env import Backends, backends
from bench.fill import add_users
from bench.procs import running
from bench.results import Figure
from bench.target import free_port, wait_for_port

TARGET_RATE = 2_000
TARGET_P99_MS = 50.0


@dataclass(frozen=True)
class Sizes:
    """Heartbeats (100 per user) and the load."""

    heartbeats: int = 10_000
    concurrency: int = 32
    seconds: float = 10.0


QUICK = Sizes(heartbeats=200, concurrency=8, seconds=1.0)


async def _fill(b: Backends, sizes: Sizes) -> list[str]:
    conn = await b.pg()
    try:
        owners = await add_users(conn, max(1, sizes.heartbeats // 100))
        keys = [secrets.token_urlsafe(16) for _ in range(sizes.heartbeats)]
        now = datetime.now(UTC)
        await conn.executemany(
            """
            INSERT INTO website (id, owner_id, kind, url, options, ping_key, name,
                                 interval_seconds, timeout_seconds, enabled, created_at,
                                 next_check_at, badge_key)
            VALUES (gen_random_uuid(), $1, 'heartbeat', 'heartbeat://' || $2,
                    '{"period_seconds":3600}', $2, NULL, 3600, 10, true, $3, $3,
                    left(replace(gen_random_uuid()::text, '-', ''), 24))
            """,
            [(owners[i % len(owners)], key, now) for i, key in enumerate(keys)],
        )
        await conn.execute(
            """
            INSERT INTO heartbeat (website_id, down_at, late)
            SELECT id, $1, false FROM website WHERE kind = 'heartbeat'
            """,
            now + timedelta(hours=2),
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return keys


async def run(sizes: Sizes) -> list[Figure]:
    """Return pings ingested per second and their p99 latency against the targets."""
    async with backends("pings") as b:
        keys = await _fill(b, sizes)
        async with running() as procs:
            _, base_url = start_api(b, procs)
            ceiling_port = free_port()
            procs.start(
                "bare-asgi",
                [sys.executable, "-m", "bench.bare_asgi", str(ceiling_port)],
                b.component_env(),
            )
            await wait_ready(base_url, procs)
            await asyncio.to_thread(wait_for_port, ceiling_port)

            async def load(base: str, paths: list[str]) -> list[float]:
                requests: list[Request] = [(f"{base}{path}", {}) for path in paths]
                return await latencies(
                    round_robin(requests), concurrency=sizes.concurrency, seconds=sizes.seconds
                )

            ping_paths = [f"/ping/{key}" for key in keys]
            # A short warm-up first: the API's connection pool and PostgreSQL's cache.
            await latencies(
                round_robin([(f"{base_url}{p}", {}) for p in ping_paths]),
                concurrency=sizes.concurrency,
                seconds=min(1.0, sizes.seconds),
            )
            found = await load(base_url, ping_paths)
            # The ceiling: the same requests answered by a bare ASGI app.
            bare = await load(f"http://127.0.0.1:{ceiling_port}", ping_paths)
            # The API's own floor for a request with one database round trip.
            health = await load(base_url, ["/healthz"])
            conn = await b.pg()
            try:
                ticks = int(await conn.fetchval("SELECT count(*) FROM website_tick"))
            finally:
                await conn.close()
    rate = len(found) / sizes.seconds
    bare_rate = len(bare) / sizes.seconds
    p99 = percentile(found, 0.99) * 1000
    bare_p99 = percentile(bare, 0.99) * 1000
    details = {
        "pings": len(found),
        "ticks_stored": ticks,
        "p50_ms": round(percentile(found, 0.5) * 1000, 2),
        "healthz_per_s": round(len(health) / sizes.seconds, 1),
        "healthz_p99_ms": round(percentile(health, 0.99) * 1000, 2),
        "concurrency": sizes.concurrency,
        "heartbeats": sizes.heartbeats,
    }
    return [
        Figure(
            benchmark="heartbeat pings",
            name="pings ingested/s (one API process)",
            value=rate,
            unit="/s",
            target=f">= {TARGET_RATE:,} /s",
            met=rate >= TARGET_RATE,
            baseline=bare_rate,
            baseline_name="bare ASGI app /s",
            ratio=rate / bare_rate,
            details=details,
        ),
        Figure(
            benchmark="heartbeat pings",
            name="ping p99 latency",
            value=p99,
            unit="ms",
            target=f"< {TARGET_P99_MS:g} ms",
            met=p99 < TARGET_P99_MS,
            baseline=bare_p99,
            baseline_name="bare ASGI app",
            ratio=p99 / bare_p99,
            details=details,
        ),
    ]
