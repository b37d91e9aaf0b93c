"""Benchmark 3: seconds for a pusher process to enqueue 100,000 due websites, and its peak RSS."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.env import BETTERUPTIME, backends
from bench.fill import add_users, add_websites
from bench.procs import running
from bench.results import Figure

TARGET_SECONDS = 10.0
TARGET_RSS_MB = 200.0


@dataclass(frozen=True)
class Sizes:
    """How many websites are due at once."""

    websites: int = 100_000


QUICK = Sizes(websites=2_000)


async def run(base_url: str, sizes: Sizes) -> list[Figure]:
    """Return the pusher's time to enqueue everything due, and its peak memory."""
    async with backends("sched") as b:
        conn = await b.pg()
        try:
            owners = await add_users(conn, 100)
            await add_websites(
                conn,
                owners,
                base_url,
                sizes.websites,
                interval=300,
                timeout=10,
                first_due=datetime.now(UTC) - timedelta(seconds=5),
            )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        async with running() as procs:
            started = time.monotonic()
            pusher = procs.start("pusher", [BETTERUPTIME, "pusher"], b.component_env())
            first_at: float | None = None
            while True:
                procs.sample()
                length = int(await b.redis.xlen(b.stream_key))
                now = time.monotonic()
                if first_at is None and length > 0:
                    first_at = now
                if length >= sizes.websites:
                    break
                if now - started > 120:
                    raise RuntimeError(f"pusher enqueued only {length} in 120 s")
                await asyncio.sleep(0.02)
            seconds = now - started
            # Keep sampling a moment: the pusher's memory peaks right after the last batch.
            for _ in range(10):
                procs.sample()
                await asyncio.sleep(0.05)
            procs.stop(pusher)
        conn = await b.pg()
        try:
            still_due = await conn.fetchval(
                "SELECT count(*) FROM website WHERE next_check_at <= now()"
            )
        finally:
            await conn.close()
        if still_due:
            raise RuntimeError(f"{still_due} websites still due after the pusher ran")
    rss_mb = pusher.peak_rss / 2**20
    startup = (first_at or now) - started
    return [
        Figure(
            benchmark="3 scheduler",
            name=f"pusher enqueues {sizes.websites:,} due websites, s (from process start)",
            value=seconds,
            unit="s",
            target=f"< {TARGET_SECONDS:.0f} s",
            met=seconds < TARGET_SECONDS,
            details={
                "seconds_to_first_entry": round(startup, 2),
                "enqueue_rate_after_first_per_s": round(
                    sizes.websites / max(now - (first_at or now), 1e-9)
                ),
            },
        ),
        Figure(
            benchmark="3 scheduler",
            name="pusher peak RSS, MB",
            value=rss_mb,
            unit="MB",
            target=f"< {TARGET_RSS_MB:.0f} MB",
            met=rss_mb < TARGET_RSS_MB,
        ),
    ]
