"""Benchmark 4: lag from scheduled_at to checked_at with 10,000 websites on a 30 s interval."""

from __future__ import annotations

from dataclasses import dataclass

from bench import pipeline
from bench.env import backends
from bench.procs import running
from bench.results import Figure

TARGET_P99_SECONDS = 2.0


@dataclass(frozen=True)
class Sizes:
    """Websites, their interval, how long to run and with how many workers."""

    websites: int = 10_000
    interval: int = 30
    seconds: float = 180.0
    workers: int = 1
    concurrency: int = 500


QUICK = Sizes(websites=300, interval=4, seconds=8.0)


async def run(base_url: str, sizes: Sizes) -> list[Figure]:
    """Return the lag p50/p99 of every check scheduled during the run."""
    async with backends("accuracy") as b:
        parked_due = await pipeline.fill(b, base_url, sizes.websites, sizes.interval)
        async with running() as procs:
            result = await pipeline.run_for(
                b,
                procs,
                parked_due=parked_due,
                websites=sizes.websites,
                interval=sizes.interval,
                seconds=sizes.seconds,
                workers=sizes.workers,
                concurrency=sizes.concurrency,
                warmup_seconds=0.0,
            )
    details = {
        "websites": sizes.websites,
        "interval_seconds": sizes.interval,
        "run_seconds": sizes.seconds,
        "workers": sizes.workers,
        "checks_measured": result.stored,
        "checks_per_second": round(result.stored_per_second, 1),
        "expected_per_second": round(result.expected_per_second, 1),
        "skipped_stale": result.skipped_stale,
        "lag_max_seconds": round(result.lag_max, 3),
    }
    return [
        Figure(
            benchmark="4 scheduling accuracy",
            name="lag scheduled_at -> checked_at p50",
            value=result.lag_p50 * 1000,
            unit="ms",
            target="-",
            met=None,
            details=details,
        ),
        Figure(
            benchmark="4 scheduling accuracy",
            name="lag scheduled_at -> checked_at p99",
            value=result.lag_p99 * 1000,
            unit="ms",
            target=f"< {TARGET_P99_SECONDS * 1000:.0f} ms",
            met=result.lag_p99 < TARGET_P99_SECONDS,
            details=details,
        ),
    ]
