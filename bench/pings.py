"""Benchmark: heartbeat ping ingestion through `betteruptime api` on PostgreSQL.

Closed loops GET /ping/{key} over keep-alive connections, each ping a real ingestion: the
key looked up, the heartbeat's deadline moved, and an UP tick plus the status row written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.api import Request, latencies, percentile, round_robin, start_api, wait_ready
from bench.env import Backends, backends
from bench.fill import add_users
from bench.procs import running
from bench.results import Figure

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
            await wait_ready(base_url, procs)
            requests: list[Request] = [(f"{base_url}/ping/{key}", {}) for key in keys]
            # A short warm-up first: the API's connection pool and PostgreSQL's cache.
            await latencies(
                round_robin(requests),
                concurrency=sizes.concurrency,
                seconds=min(1.0, sizes.seconds),
            )
            found = await latencies(
                round_robin(requests), concurrency=sizes.concurrency, seconds=sizes.seconds
            )
            # The ceiling on this machine now: the same API answering /healthz (one
            # database round trip), measured in the same run with the same load.
            health = await latencies(
                round_robin([(f"{base_url}/healthz", {})]),
                concurrency=sizes.concurrency,
                seconds=sizes.seconds,
            )
            conn = await b.pg()
            try:
                ticks = int(await conn.fetchval("SELECT count(*) FROM website_tick"))
            finally:
                await conn.close()
    rate = len(found) / sizes.seconds
    health_rate = len(health) / sizes.seconds
    p99 = percentile(found, 0.99) * 1000
    details = {
        "pings": len(found),
        "ticks_stored": ticks,
        "p50_ms": round(percentile(found, 0.5) * 1000, 2),
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
            baseline=health_rate,
            baseline_name="GET /healthz /s",
            ratio=rate / health_rate,
            details=details,
        ),
        Figure(
            benchmark="heartbeat pings",
            name="ping p99 latency",
            value=p99,
            unit="ms",
            target=f"< {TARGET_P99_MS:g} ms",
            met=p99 < TARGET_P99_MS,
            details=details,
        ),
    ]
