"""Benchmark 6: worker peak RSS with WORKER_CONCURRENCY checks in flight on a slow target."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from bench.env import BETTERUPTIME, backends
from bench.procs import running, scrape, wait_for_metrics
from bench.results import Figure
from bench.target import free_port, wait_for_port
from bench.worker_throughput import REGION, acked, prefill

TARGET_RSS_MB = 300.0


@dataclass(frozen=True)
class Sizes:
    """Checks in flight, how many rounds of them, and how long the target holds each."""

    concurrency: int = 2000
    rounds: int = 3
    delay_seconds: float = 3.0


QUICK = Sizes(concurrency=100, rounds=2, delay_seconds=0.5)


async def run(sizes: Sizes) -> list[Figure]:
    """Return the worker's peak RSS and the most checks seen in flight at once."""
    async with backends("memory") as b, running() as procs:
        port = free_port()
        procs.start(
            "slow-target",
            [sys.executable, "-m", "bench.slow_target", str(port), str(sizes.delay_seconds)],
            b.component_env(),
        )
        await asyncio.to_thread(wait_for_port, port)
        total = await prefill(b, f"http://127.0.0.1:{port}", sizes.concurrency * sizes.rounds)
        metrics_port = free_port()
        worker = procs.start(
            "worker",
            [BETTERUPTIME, "worker"],
            b.component_env(
                region_id=REGION,
                worker_id="bench-mem",
                worker_concurrency=sizes.concurrency,
                metrics_port=metrics_port,
            ),
        )
        await wait_for_metrics(metrics_port)
        most_in_flight = 0.0
        deadline = time.monotonic() + 60 + sizes.rounds * sizes.delay_seconds * 3
        while await acked(b, REGION) < total:
            procs.sample()
            metrics = await scrape(metrics_port)
            most_in_flight = max(most_in_flight, metrics.get("betteruptime_checks_in_flight", 0))
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not finish the slow checks in time")
            await asyncio.sleep(0.05)
        metrics = await scrape(metrics_port)
        procs.stop(worker)
    up = metrics.get('betteruptime_checks_total{status="UP"}', 0.0)
    if up < total:
        raise RuntimeError(f"only {up:.0f} of {total} slow checks were UP")
    rss_mb = worker.peak_rss / 2**20
    return [
        Figure(
            benchmark="6 memory",
            name=f"worker peak RSS, WORKER_CONCURRENCY={sizes.concurrency}, MB",
            value=rss_mb,
            unit="MB",
            target=f"< {TARGET_RSS_MB:.0f} MB",
            met=rss_mb < TARGET_RSS_MB,
            details={
                "most_in_flight_seen": int(most_in_flight),
                "checks": total,
                "target_delay_seconds": sizes.delay_seconds,
            },
        )
    ]
