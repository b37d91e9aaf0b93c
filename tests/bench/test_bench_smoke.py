"""Each benchmark still runs end to end at tiny sizes, so none of them can rot unnoticed.

The figures of these runs mean nothing; what is asserted is that every benchmark sets up,
measures, reports a figure with its target and cleans up after itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from bench.__main__ import main as bench_cli
from bench.results import Figure
from bench.target import nginx_target

UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def nginx_url() -> Iterator[str]:
    """Return the base URL of a private loopback nginx (skip when nginx is not installed)."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) and not UNDER_CI:
        pytest.skip("nginx is not installed; `make bench` installs it")
    with nginx_target() as url:
        yield url


@pytest.fixture
def servers(postgres_server_url: str, redis_prefix: str) -> None:
    """Skip (or fail under CI) when PostgreSQL or Redis is not reachable."""


async def _leftovers() -> tuple[list[str], list[str]]:
    """Return databases and Redis keys that this process's benchmarks left behind."""
    from bench.env import ADMIN_POSTGRES_URL, CREATED, REDIS_URL

    names = [name for name, _ in CREATED]
    conn = await asyncpg.connect(ADMIN_POSTGRES_URL)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname = ANY($1)", names)
    finally:
        await conn.close()
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [
            key
            for _, prefix in CREATED
            async for key in client.scan_iter(match=f"{prefix}*", count=1000)
        ]
    finally:
        await client.aclose()
    return [r["datname"] for r in rows], keys


def _check(figures: list[Figure], benchmark: str, count: int) -> None:
    assert len(figures) == count
    for f in figures:
        assert f.benchmark.endswith(benchmark)
        assert f.value == f.value and f.value >= 0  # a number, not NaN
        assert f.target
        if f.baseline is not None:
            assert f.baseline > 0
            assert f.ratio == pytest.approx(f.value / f.baseline)


@pytest.mark.usefixtures("servers")
async def test_worker_throughput_runs(nginx_url: str) -> None:
    from bench import worker_throughput

    sizes = dataclasses.replace(worker_throughput.QUICK, websites=600, ceiling_seconds=0.5)
    figures = await worker_throughput.run(nginx_url, sizes)
    _check(figures, "worker throughput", 2)
    assert all(f.details["websites"] == 600 for f in figures)


@pytest.mark.usefixtures("servers")
async def test_tick_writes_runs() -> None:
    from bench import tick_writes

    _check(await tick_writes.run(tick_writes.QUICK), "tick writes", 2)


@pytest.mark.usefixtures("servers")
async def test_scheduler_runs(nginx_url: str) -> None:
    from bench import scheduler

    figures = await scheduler.run(nginx_url, scheduler.QUICK)
    _check(figures, "scheduler", 2)
    assert figures[1].value > 10  # a real process's RSS in MB


@pytest.mark.usefixtures("servers")
async def test_accuracy_runs(nginx_url: str) -> None:
    from bench import accuracy

    # A 2 s interval, not 1 s: on a loaded machine a check can start more than a second
    # late, and a job older than its interval is skipped as stale (invariant 3).
    sizes = dataclasses.replace(accuracy.QUICK, websites=100, interval=2, seconds=5.0)
    figures = await accuracy.run(nginx_url, sizes)
    _check(figures, "scheduling accuracy", 2)
    # 2.5 intervals of 100 websites: about 250 checks were scheduled and stored.
    assert figures[1].details["checks_measured"] >= 200


@pytest.mark.usefixtures("servers")
async def test_status_reads_runs() -> None:
    from bench import status_reads

    sizes = dataclasses.replace(status_reads.QUICK, websites=100, seconds=0.5)
    figures = await status_reads.run(sizes)
    _check(figures, "status reads", 2)
    assert figures[0].details["requests_big"] > 0


@pytest.mark.usefixtures("servers")
async def test_heartbeat_pings_run() -> None:
    from bench import pings

    sizes = dataclasses.replace(pings.QUICK, heartbeats=100, seconds=0.5)
    figures = await pings.run(sizes)
    _check(figures, "heartbeat pings", 2)
    # Every ping answered 200 was stored as a tick.
    assert figures[0].details["ticks_stored"] >= figures[0].details["pings"] > 0


@pytest.mark.usefixtures("servers")
async def test_stats_reads_runs() -> None:
    from bench import stats_reads

    sizes = dataclasses.replace(stats_reads.QUICK, websites=10, big_days=5, seconds=0.5)
    figures = await stats_reads.run(sizes)
    _check(figures, "stats reads", 1)
    # Five days of hourly rows per website and region, and a daily row per day before today.
    assert figures[0].details["hourly_rows_big"] == 10 * 5 * 24
    assert figures[0].details["daily_rows_big"] == 10 * 5
    assert figures[0].details["requests_big"] > 0


@pytest.mark.usefixtures("servers")
async def test_web_pages_runs() -> None:
    from bench import web_pages

    sizes = dataclasses.replace(web_pages.QUICK, seconds=0.5)
    figures = await web_pages.run(sizes)
    _check(figures, "web pages", 6)
    assert all(f.details["requests"] > 0 for f in figures)
    # The status page's target figure is the page computed on every request.
    uncached, cached = figures[-2], figures[-1]
    assert uncached.details["status_page_cache_seconds"] == 0 and uncached.met is not None
    assert cached.details["status_page_cache_seconds"] > 0 and cached.met is None


@pytest.mark.usefixtures("servers")
async def test_storage_runs() -> None:
    from bench import storage

    figures = await storage.run(storage.QUICK)
    _check(figures, "storage", 6)
    packed, written = figures[0], figures[1]
    assert packed.details["ticks"] == 50 * 2 * 100
    # Tiny sizes mean mostly empty pages; the figures only have to be real numbers.
    assert packed.value > 0 and written.value > 0
    assert all(f.details["rows_per_second_before"] > 0 for f in figures[2:])


@pytest.mark.usefixtures("servers")
async def test_memory_runs() -> None:
    from bench import memory

    sizes = dataclasses.replace(memory.QUICK, concurrency=50, delay_seconds=0.3)
    figures = await memory.run(sizes)
    _check(figures, "memory", 1)
    # The slow target held every check: the worker had all 50 in flight at once.
    assert figures[0].details["most_in_flight_seen"] == 50


@pytest.mark.usefixtures("servers")
async def test_capacity_runs(nginx_url: str) -> None:
    from bench import capacity

    sizes = dataclasses.replace(
        capacity.QUICK, websites=200, interval=1, seconds=2.5, warmup_seconds=0.5
    )
    figures = await capacity.run(nginx_url, sizes)
    _check(figures, "capacity", 3)
    assert figures[0].details["worker_processes"] == 1
    assert "postgres" in figures[0].details["cpu_cores_used_by_process"]


@pytest.mark.usefixtures("servers")
async def test_detection_runs() -> None:
    from bench import detection

    figures = await detection.run(detection.QUICK)
    _check(figures, "detection latency", 2)
    details = figures[1].details
    # Every website that went down was notified once: the pipeline ran end to end.
    assert (details["notified"], details["missing"], details["doubled"]) == (4, 0, 0)
    assert figures[1].value > 0


@pytest.mark.usefixtures("servers")
async def test_storm_runs() -> None:
    from bench import storm

    figures = await storm.run(storm.QUICK)
    _check(figures, "notification storm", 3)
    assert figures[0].details["notified"] == storm.QUICK.down
    assert figures[2].value == 0


@pytest.mark.usefixtures("servers")
def test_command_line_writes_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "latest.json"
    status = bench_cli(
        ["--only", "ticks", "--quick", "--size", "ticks.batch_rows=500", "--output", str(output)]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "| 2 tick writes | batch writer" in printed
    document = json.loads(output.read_text())
    assert document["command"].startswith("python -m bench")
    figures = document["figures"]
    assert len(figures) == 2  # the default batch size and the large one
    assert all(f["details"]["sizes"]["batch_rows"] == 500 for f in figures)
    assert all(f["baseline_name"] == "one INSERT per tick" for f in figures)


async def test_no_leftovers_after_benchmarks() -> None:
    """Runs last in this module: every benchmark dropped its database and Redis keys."""
    from bench.env import CREATED

    if not CREATED:
        pytest.skip("no benchmark ran (servers not reachable)")
    assert await _leftovers() == ([], [])
