"""A running pipeline (pusher and worker processes) on websites spread over their interval.

Used by the accuracy and capacity benchmarks: both schedule websites evenly over one
interval, as a long-running deployment would be, and measure lag from `scheduled_at` to
`checked_at` in the ticks the workers stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.env import BETTERUPTIME, Backends
from bench.fill import add_users, add_websites
from bench.procs import Proc, Procs, scrape, wait_for_metrics
from bench.target import free_port

REGION = "bench"
# Websites are inserted due this far ahead, so none falls due while the processes start:
# a loaded machine takes anything from one to tens of seconds to import and connect, and
# a website found overdue is rescheduled from "now" (one burst, no longer spread) while
# its job may already be stale. The schedule is moved to the real start once they run.
PARKED_AHEAD = timedelta(days=1)
# From every process serving its metrics to the first website falling due: the pusher's
# next look (poll_seconds, 1 s) and the worker's first read of the stream.
START_MARGIN_SECONDS = 2.0
# How long the processes may take to serve their metrics: nothing is due yet, so a slow
# start costs only time, and a starved machine has been seen to need over 20 s.
START_TIMEOUT_SECONDS = 90.0


@dataclass
class PipelineRun:
    """What one run of the pipeline stored, skipped and how late it was."""

    window_seconds: float
    stored: int
    stored_per_second: float
    expected_per_second: float
    skipped_stale: int
    lag_p50: float
    lag_p99: float
    lag_max: float
    workers: list[Proc] = field(default_factory=list)
    pusher: Proc | None = None


async def fill(b: Backends, base_url: str, websites: int, interval: int) -> datetime:
    """Insert websites due evenly over one interval from a parked moment; return it.

    run_for moves the whole schedule from that moment to just after its processes run.
    """
    first_due = datetime.now(UTC) + PARKED_AHEAD
    conn = await b.pg()
    try:
        owners = await add_users(conn, max(1, websites // 100))
        await add_websites(
            conn,
            owners,
            base_url,
            websites,
            interval=interval,
            timeout=min(10, interval),
            first_due=first_due,
            spread_seconds=interval,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return first_due


def start(
    b: Backends, procs: Procs, workers: int, concurrency: int
) -> tuple[tuple[Proc, int], list[tuple[Proc, int]]]:
    """Start one pusher and the workers, each with a metrics port; return (process, port)s."""
    pusher_port = free_port()
    pusher = procs.start(
        "pusher", [BETTERUPTIME, "pusher"], b.component_env(metrics_port=pusher_port)
    )
    started = []
    for i in range(workers):
        port = free_port()
        proc = procs.start(
            f"worker{i}",
            [BETTERUPTIME, "worker"],
            b.component_env(
                region_id=REGION,
                worker_id=f"bench-w{i}",
                worker_concurrency=concurrency,
                metrics_port=port,
            ),
        )
        started.append((proc, port))
    return (pusher, pusher_port), started


async def unpark(b: Backends, parked_due: datetime) -> datetime:
    """Move every website's next check from parked_due to a moment just ahead; return it."""
    first_due = datetime.now(UTC) + timedelta(seconds=START_MARGIN_SECONDS)
    conn = await b.pg()
    try:
        # One statement: the spread over the interval is kept exactly.
        await conn.execute(
            "UPDATE website SET next_check_at = next_check_at + ($1::timestamptz - $2)",
            first_due,
            parked_due,
        )
    finally:
        await conn.close()
    return first_due


async def skipped_total(ports: list[int]) -> int:
    """Return the stale jobs the workers skipped, summed from their metrics."""
    total = 0.0
    for port in ports:
        metrics = await scrape(port)
        total += metrics.get("betteruptime_checks_skipped_stale_total", 0.0)
    return int(total)


async def run_for(
    b: Backends,
    procs: Procs,
    *,
    parked_due: datetime,
    websites: int,
    interval: int,
    seconds: float,
    workers: int,
    concurrency: int,
    warmup_seconds: float,
    at_end: Callable[[], Awaitable[None]] | None = None,
) -> PipelineRun:
    """Run pusher and workers for seconds from the first due website; return what they did.

    The websites wait parked (see fill) until every process serves its metrics, then fall
    due from START_MARGIN_SECONDS later: the window measures the running pipeline, never
    its start-up, however long a loaded machine takes to start it.

    at_end is called when the time is up, while every process (and each one's database
    connections) is still alive: the moment to take CPU readings.
    """
    (pusher, pusher_port), started = start(b, procs, workers, concurrency)
    ports = [port for _, port in started]
    for port in [pusher_port, *ports]:
        await wait_for_metrics(port, START_TIMEOUT_SECONDS)
    first_due = await unpark(b, parked_due)
    end = first_due + timedelta(seconds=seconds)
    while datetime.now(UTC) < end:
        procs.sample()
        await asyncio.sleep(0.5)
    procs.sample()
    if at_end is not None:
        await at_end()
    # Stop scheduling, let the workers finish what was scheduled before the end, then
    # stop them: every job of the window gets its chance to be stored.
    procs.stop(pusher)
    await drained(b)
    skipped = await skipped_total(ports)
    for proc, _ in started:
        procs.stop(proc)
    window_start = first_due + timedelta(seconds=warmup_seconds)
    window = (end - window_start).total_seconds()
    conn = await b.pg()
    try:
        # Ticks scheduled inside the window; anything scheduled earlier is warm-up.
        row = await conn.fetchrow(
            """
            SELECT count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
                   max(lag) AS worst
            FROM (SELECT delay_ms / 1000.0 AS lag
                  FROM website_tick
                  WHERE scheduled_at >= $1 AND scheduled_at < $2) t
            """,
            window_start,
            end,
        )
    finally:
        await conn.close()
    stored = int(row["n"])
    return PipelineRun(
        window_seconds=window,
        stored=stored,
        stored_per_second=stored / window,
        expected_per_second=websites / interval,
        skipped_stale=skipped,
        lag_p50=float(row["p50"] or 0.0),
        lag_p99=float(row["p99"] or 0.0),
        lag_max=float(row["worst"] or 0.0),
        workers=[p for p, _ in started],
        pusher=pusher,
    )


async def drained(b: Backends, timeout: float = 15.0) -> None:
    """Wait until the region's group has read and acknowledged everything in the stream."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = await b.redis.xinfo_groups(b.stream_key)
        if all(int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 for g in groups):
            return
        await asyncio.sleep(0.1)
