"""Benchmark 1: checks written and acknowledged per second by worker processes, vs the ceiling.

The stream is filled before the workers start, so they never wait for the pusher; the rate
is taken from 10 % done to all done, leaving out process start and the first ramp-up.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.ceiling import bare_aiohttp_rate
from bench.env import BETTERUPTIME, Backends, backends
from bench.fill import add_users, add_websites, jobs_for_all
from bench.procs import Procs, cpu_by_pid, cpu_delta, running
from bench.results import Figure
from betteruptime.queue.redis_streams import RedisStreamQueue

REGION = "bench"
SERVERS = ("postgres", "redis-server", "nginx")
TARGET_RATIO = 0.8


@dataclass(frozen=True)
class Sizes:
    """How many websites are due at once, and how hard each worker works."""

    websites: int = 40_000
    concurrency: int = 500
    ceiling_seconds: float = 8.0
    batch_size: int = 500


QUICK = Sizes(websites=1_500, concurrency=100, ceiling_seconds=1.0)


async def acked(b: Backends, group: str) -> int:
    """Return how many entries the group has read and acknowledged."""
    try:
        groups = await b.redis.xinfo_groups(b.stream_key)
    except Exception:  # the stream or group does not exist yet
        return 0
    for g in groups:
        if g["name"] == group:
            return int(g.get("entries-read") or 0) - int(g["pending"])
    return 0


async def prefill(b: Backends, base_url: str, websites: int) -> int:
    """Insert websites and enqueue one job for each; return the number of jobs."""
    conn = await b.pg()
    try:
        owners = await add_users(conn, 10)
        await add_websites(
            conn,
            owners,
            base_url,
            websites,
            interval=3600,
            timeout=10,
            first_due=_far_future(),
        )
        jobs = await jobs_for_all(conn)
    finally:
        await conn.close()
    queue = RedisStreamQueue(b.redis, b.stream_key)
    for i in range(0, len(jobs), 2000):
        await queue.publish(jobs[i : i + 2000])
    return len(jobs)


def _far_future() -> datetime:
    # The pusher never runs here; keep the websites out of any due query regardless.
    return datetime.now(UTC) + timedelta(days=1)


@dataclass
class Measured:
    """Rate from 10 % to done, wall time from process start, CPU cores used in between."""

    rate: float
    wall: float
    cpu_cores: dict[str, float]


async def measure_workers(
    b: Backends, procs: Procs, workers: int, sizes: Sizes, total: int, timeout: float = 300.0
) -> Measured:
    """Start workers on the filled stream; return the rate, the time and where CPU went."""
    started = time.monotonic()
    for i in range(workers):
        procs.start(
            f"worker{i}",
            [BETTERUPTIME, "worker"],
            b.component_env(
                region_id=REGION,
                worker_id=f"bench-w{i}",
                worker_concurrency=sizes.concurrency,
                worker_batch_size=sizes.batch_size,
            ),
        )
    t10: float | None = None
    a10 = 0
    while True:
        procs.sample()
        done = await acked(b, REGION)
        now = time.monotonic()
        if t10 is None and done >= total * 0.1:
            t10, a10 = now, done
            servers_before = cpu_by_pid(SERVERS)
            procs_before = {p.name: p.cpu_seconds for p in procs.procs}
        if done >= total:
            break
        if now - started > timeout:
            raise RuntimeError(f"workers acked only {done} of {total} in {timeout} s")
        await asyncio.sleep(0.05)
    assert t10 is not None
    elapsed = max(now - t10, 1e-9)
    cpu = cpu_delta(servers_before, cpu_by_pid(SERVERS))
    cpu.update({p.name: p.cpu_seconds - procs_before.get(p.name, 0.0) for p in procs.procs})
    cores = {k: round(v / elapsed, 2) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])}
    return Measured((total - a10) / elapsed, now - started, cores)


async def _ticks(b: Backends) -> int:
    conn = await b.pg()
    try:
        return int(await conn.fetchval("SELECT count(*) FROM website_tick"))
    finally:
        await conn.close()


async def ceiling_processes(url: str, processes: int, concurrency: int, seconds: float) -> float:
    """Return the summed rate of bare loops in separate processes, run at the same time."""
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.ceiling",
            url,
            str(concurrency),
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    outputs = await asyncio.gather(*(r.communicate() for r in runs))
    return sum(float(out.decode().strip()) for out, _ in outputs)


async def run(base_url: str, sizes: Sizes) -> list[Figure]:
    """Return the figures of one and of two workers against their ceilings."""
    url = f"{base_url}/w/0"
    figures: list[Figure] = []
    for workers in (1, 2):
        async with backends(f"worker{workers}") as b:
            total = await prefill(b, base_url, sizes.websites)
            # The ceiling runs right before the workers, with the stream already filled,
            # so both see the same machine state.
            if workers == 1:
                ceiling = await bare_aiohttp_rate(
                    url, concurrency=sizes.concurrency, seconds=sizes.ceiling_seconds
                )
            else:
                ceiling = await ceiling_processes(
                    url, workers, sizes.concurrency, sizes.ceiling_seconds
                )
            async with running() as procs:
                measured = await measure_workers(b, procs, workers, sizes, total)
                stored = await _ticks(b)
                for proc in procs.procs:
                    procs.stop(proc)
                rss = max(p.peak_rss for p in procs.procs)
            if stored != total:
                raise RuntimeError(f"{stored} ticks stored for {total} acknowledged messages")
            rate = measured.rate
            ratio = rate / ceiling
            figures.append(
                Figure(
                    benchmark="1 worker throughput",
                    name=f"{workers} worker{'s' if workers > 1 else ''}, checks stored+acked/s",
                    value=rate,
                    unit="/s",
                    target=f">= {TARGET_RATIO} x ceiling",
                    met=ratio >= TARGET_RATIO,
                    baseline=ceiling,
                    baseline_name=f"bare aiohttp x{workers}",
                    ratio=ratio,
                    details={
                        "websites": total,
                        "concurrency_per_process": sizes.concurrency,
                        "batch_size": sizes.batch_size,
                        "wall_seconds_including_start": round(measured.wall, 2),
                        "cpu_cores_used_while_measured": measured.cpu_cores,
                        "peak_rss_mb": round(rss / 2**20, 1),
                        "connection": "fresh connection per request (force_close)",
                    },
                )
            )
    return figures
