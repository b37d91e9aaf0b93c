"""Invariant 1 with real processes: SIGKILL mid-batch loses nothing, SIGTERM drains cleanly."""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from tests.pipeline.helpers import (
    Targets,
    create_user,
    create_websites,
    http_targets,
    job_key,
    spawn,
    stop_process,
    stream_entries,
    ticks,
    wait_for,
    wait_for_log,
)

REGION = "eu-west-1"


@dataclass
class Setup:
    engine: AsyncEngine
    redis: aioredis.Redis
    key: str
    targets: Targets
    env: dict[str, str]


@pytest.fixture
async def setup(
    pg_engine: AsyncEngine, fresh_postgres_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Setup]:
    key = f"{redis_prefix}Websites"
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY": key,
        "REGION_ID": REGION,
        "ALLOW_PRIVATE_TARGETS": "true",
        # Claiming needs to be quick here, so timeouts are capped below it (the slow
        # target answers in 2.5 s, inside the 3 s timeout).
        "MAX_TIMEOUT_SECONDS": "3",
        "DEFAULT_TIMEOUT_SECONDS": "3",
        "CLAIM_IDLE_SECONDS": "4",
        "LOG_LEVEL": "INFO",
    }
    client = aioredis.from_url(redis_url, decode_responses=True)
    async with http_targets(slow_seconds=2.5) as targets:
        yield Setup(pg_engine, client, key, targets, env)
    await client.aclose()


async def push_all(s: Setup) -> list[tuple[uuid.UUID, datetime]]:
    """Push every due website once; return the (website, scheduled time) of each message."""
    queue = RedisStreamQueue.from_url(s.env["REDIS_URL"], s.key)
    try:
        pusher = Pusher(s.engine, queue, PusherConfig(), PusherMetrics(CollectorRegistry()))
        await pusher.push_due()
    finally:
        await queue.close()
    return [job_key(fields) for _, fields in await stream_entries(s.redis, s.key)]


async def pending(s: Setup) -> int:
    summary = await s.redis.xpending(s.key, REGION)
    return int(summary["pending"])


async def test_sigkill_mid_batch_loses_nothing_and_doubles_nothing(
    setup: Setup, tmp_path: Path
) -> None:
    s = setup
    owner = await create_user(s.engine)
    # Half answer at once (written and acked before the kill), half are still in flight.
    urls = [s.targets.url(f"/fast/{i}") for i in range(15)]
    urls += [s.targets.url(f"/slow/{i}") for i in range(15)]
    await create_websites(s.engine, owner, urls, interval=300, timeout=3)
    jobs = await push_all(s)
    assert len(jobs) == 30

    first = spawn(["worker"], {**s.env, "WORKER_ID": "w1"}, tmp_path / "w1.log")
    try:
        # Start-up has its own budget; the 20 s below are for the work alone.
        await wait_for_log(first, tmp_path / "w1.log", '"worker started"')

        async def fast_written_slow_in_flight() -> bool:
            if len(await ticks(s.engine)) < 15:
                return False
            return await pending(s) == 15 and s.targets.hits.get("/slow/0", 0) == 1

        await wait_for(fast_written_slow_in_flight, 20, "fast ticks stored, slow in flight")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert len(await ticks(s.engine)) == 15
    assert await pending(s) == 15  # no ack of what was not stored

    second = spawn(["worker"], {**s.env, "WORKER_ID": "w2"}, tmp_path / "w2.log")
    try:
        await wait_for_log(second, tmp_path / "w2.log", '"worker started"')

        async def all_stored() -> bool:
            return len(await ticks(s.engine)) == 30 and await pending(s) == 0

        await wait_for(all_stored, 20, "the second worker to claim and store the rest")
    finally:
        assert await stop_process(second) == 0
    # Exactly one tick per message: the stored keys are the pushed ones, none twice.
    stored = [t.job_key for t in await ticks(s.engine)]
    assert sorted(stored) == sorted(jobs)
    assert "claimed idle messages" in (tmp_path / "w2.log").read_text()


async def test_sigterm_finishes_in_flight_checks_then_writes_and_acks(
    setup: Setup, tmp_path: Path
) -> None:
    s = setup
    owner = await create_user(s.engine)
    await create_websites(
        s.engine, owner, [s.targets.url(f"/slow/{i}") for i in range(10)], interval=300, timeout=3
    )
    jobs = await push_all(s)
    worker = spawn(["worker"], {**s.env, "WORKER_ID": "w1"}, tmp_path / "w1.log")
    try:
        await wait_for_log(worker, tmp_path / "w1.log", '"worker started"')

        async def in_flight() -> bool:
            return sum(s.targets.hits.values()) == 10

        await wait_for(in_flight, 20, "checks in flight")
        assert len(await ticks(s.engine)) == 0
    finally:
        code = await stop_process(worker)
    assert code == 0
    assert sorted(t.job_key for t in await ticks(s.engine)) == sorted(jobs)
    assert await pending(s) == 0
    log = (tmp_path / "w1.log").read_text()
    assert '"worker stopped"' in log
