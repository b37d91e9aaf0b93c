"""Benchmark 5: GET /status/{id} and GET /websites latency with 10 M ticks against 10 k ticks.

Both are read from `website`, `website_status` and `users` only, so the size of the tick
history must not show in their latency.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.api import latencies, percentile, round_robin, start_api, token_for, wait_ready
from bench.env import Backends, backends
from bench.fill import add_region_and_status, add_ticks, add_users, add_websites
from bench.procs import running
from bench.results import Figure

TARGET_RATIO = 1.5
REGION = "bench"


@dataclass(frozen=True)
class Sizes:
    """Websites (100 per user), ticks per website in the big case, and the load."""

    websites: int = 10_000
    big_ticks_per_website: int = 1_000
    concurrency: int = 20
    seconds: float = 10.0


QUICK = Sizes(websites=200, big_ticks_per_website=10, concurrency=4, seconds=1.0)


async def _measure(
    base_url: str, websites: list[tuple[uuid.UUID, uuid.UUID]], sizes: Sizes
) -> dict[str, list[float]]:
    rng = random.Random(5)
    sample = rng.sample(websites, min(len(websites), 2000))
    tokens: dict[uuid.UUID, str] = {}
    status_requests = []
    for website_id, owner in sample:
        token = tokens.setdefault(owner, token_for(owner))
        status_requests.append(
            (f"{base_url}/status/{website_id}", {"Authorization": f"Bearer {token}"})
        )
    list_requests = [
        (f"{base_url}/websites?limit=50", {"Authorization": f"Bearer {token}"})
        for token in tokens.values()
    ]
    out: dict[str, list[float]] = {}
    for name, requests in (("status", status_requests), ("websites", list_requests)):
        # A short warm-up first: the API's connection pool and PostgreSQL's cache.
        await latencies(
            round_robin(requests), concurrency=sizes.concurrency, seconds=min(1.0, sizes.seconds)
        )
        out[name] = await latencies(
            round_robin(requests), concurrency=sizes.concurrency, seconds=sizes.seconds
        )
    return out


async def _fill(b: Backends, sizes: Sizes) -> list[tuple[uuid.UUID, uuid.UUID]]:
    conn = await b.pg()
    try:
        owners = await add_users(conn, max(1, sizes.websites // 100))
        await add_websites(
            conn,
            owners,
            "http://127.0.0.1:9",
            sizes.websites,
            interval=60,
            timeout=10,
            first_due=datetime.now(UTC) + timedelta(days=1),
        )
        await add_region_and_status(conn, REGION)
        await add_ticks(conn, REGION, 1)
        await conn.execute("VACUUM ANALYZE")
        rows = await conn.fetch("SELECT id, owner_id FROM website")
    finally:
        await conn.close()
    return [(r["id"], r["owner_id"]) for r in rows]


async def _grow(b: Backends, sizes: Sizes) -> tuple[int, float]:
    conn = await b.pg()
    try:
        started = time.monotonic()
        await add_ticks(conn, REGION, sizes.big_ticks_per_website - 1, start=1)
        await conn.execute("VACUUM ANALYZE")
        total = int(await conn.fetchval("SELECT count(*) FROM website_tick"))
    finally:
        await conn.close()
    return total, time.monotonic() - started


async def run(sizes: Sizes) -> list[Figure]:
    """Return p99 latency of both reads with the big tick history, against the small one."""
    async with backends("status") as b:
        websites = await _fill(b, sizes)
        async with running() as procs:
            _, base_url = start_api(b, procs)
            await wait_ready(base_url, procs)
            small = await _measure(base_url, websites, sizes)
            small_ticks = len(websites)
            big_ticks, fill_seconds = await _grow(b, sizes)
            big = await _measure(base_url, websites, sizes)
    figures = []
    for name, label in (("status", "GET /status/{id}"), ("websites", "GET /websites")):
        p99_small = percentile(small[name], 0.99) * 1000
        p99_big = percentile(big[name], 0.99) * 1000
        ratio = p99_big / p99_small
        figures.append(
            Figure(
                benchmark="5 status reads",
                name=f"{label} p99 with {big_ticks:,} ticks",
                value=p99_big,
                unit="ms",
                target=f"<= {TARGET_RATIO} x p99 with {small_ticks:,} ticks",
                met=ratio <= TARGET_RATIO,
                baseline=p99_small,
                baseline_name=f"{small_ticks:,} ticks",
                ratio=ratio,
                details={
                    "p50_ms_big": round(percentile(big[name], 0.5) * 1000, 2),
                    "p50_ms_small": round(percentile(small[name], 0.5) * 1000, 2),
                    "requests_big": len(big[name]),
                    "requests_small": len(small[name]),
                    "requests_per_second_big": round(len(big[name]) / sizes.seconds),
                    "requests_per_second_small": round(len(small[name]) / sizes.seconds),
                    "concurrency": sizes.concurrency,
                    "websites": len(websites),
                    "tick_fill_seconds": round(fill_seconds, 1),
                },
            )
        )
    return figures
