"""Invariants 3 and 5: stale backlogs are skipped; Redis and PostgreSQL outages are survived."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.db.session import create_engine
from betteruptime.queue.base import CheckJob
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.conftest import async_url
from tests.pipeline.helpers import (
    PrivateRedis,
    Targets,
    create_user,
    create_websites,
    http_targets,
    job_key,
    pending_ids,
    stream_entries,
    ticks,
    wait_for,
)
from tests.tcp_proxy import TcpProxy

REGION = "eu-west-1"


@dataclass
class Pipeline:
    """Pushers and workers running as tasks of this test, stopped together."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    queues: list[RedisStreamQueue] = field(default_factory=list)
    checkers: list[HttpChecker] = field(default_factory=list)

    def pusher(self, engine: AsyncEngine, redis_url: str, key: str) -> PusherMetrics:
        queue = RedisStreamQueue.from_url(redis_url, key)
        self.queues.append(queue)
        metrics = PusherMetrics(CollectorRegistry())
        pusher = Pusher(engine, queue, PusherConfig(poll_seconds=0.1), metrics)
        self.tasks.append(asyncio.create_task(pusher.run(self.stop)))
        return metrics

    def worker(
        self, engine: AsyncEngine, redis_url: str, key: str, **config: float
    ) -> tuple[WorkerMetrics, CollectorRegistry, asyncio.Task[None]]:
        queue = RedisStreamQueue.from_url(redis_url, key)
        self.queues.append(queue)
        checker = HttpChecker(TargetPolicy(allow_private=True))
        self.checkers.append(checker)
        registry = CollectorRegistry()
        metrics = WorkerMetrics(registry)
        worker = Worker(
            engine,
            queue,
            {CheckKind.HTTP: checker},
            WorkerConfig(region_id=REGION, worker_id=f"w{len(self.tasks)}", **config),  # type: ignore[arg-type]
            metrics,
        )
        task = asyncio.create_task(worker.run(self.stop))
        self.tasks.append(task)
        return metrics, registry, task

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)
        for q in self.queues:
            await q.close()
        for c in self.checkers:
            await c.close()


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    p = Pipeline()
    yield p
    await p.close()


@pytest.fixture
async def targets() -> AsyncIterator[Targets]:
    async with http_targets() as t:
        yield t


async def test_redis_restarted_empty_group_is_recreated_and_checking_resumes(
    pg_engine: AsyncEngine, pipeline: Pipeline, targets: Targets, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    await redis.start()
    try:
        owner = await create_user(pg_engine)
        sites = await create_websites(
            pg_engine, owner, [targets.url(f"/up/{i}") for i in range(3)], interval=1
        )
        key = "Betteruptime:Websites"
        pipeline.pusher(pg_engine, redis.url, key)
        _, _, worker_task = pipeline.worker(pg_engine, redis.url, key)

        async def every_site_checked_since(t: datetime) -> bool:
            fresh = {x.website_id for x in await ticks(pg_engine) if x.checked_at > t}
            return fresh == set(sites)

        start = datetime.now(UTC)
        await wait_for(lambda: every_site_checked_since(start), 10, "first ticks")

        redis.kill()
        await asyncio.sleep(1.5)
        assert not worker_task.done()
        await redis.start()  # empty: no stream, no group
        restarted = datetime.now(UTC)
        await wait_for(lambda: every_site_checked_since(restarted), 20, "ticks after restart")

        client = aioredis.from_url(redis.url, decode_responses=True)
        groups = await client.xinfo_groups(key)
        await client.aclose()
        assert [g["name"] for g in groups] == [REGION]
    finally:
        await pipeline.close()
        redis.kill()


async def acked_without_tick(engine: AsyncEngine, client: aioredis.Redis, key: str) -> set[str]:
    """Return message ids the group acknowledged although no tick stores their job."""
    (group,) = await client.xinfo_groups(key)
    last = tuple(int(p) for p in str(group["last-delivered-id"]).split("-"))
    entries = await stream_entries(client, key)
    delivered = {
        mid: job_key(fields)
        for mid, fields in entries
        if tuple(int(p) for p in mid.split("-")) <= last
    }
    pending = await pending_ids(client, key, REGION)
    stored = {t.job_key for t in await ticks(engine) if t.region_id == REGION}
    return {mid for mid, k in delivered.items() if mid not in pending and k not in stored}


def via_proxy(plain_url: str, port: int) -> str:
    parts = urlsplit(plain_url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def test_postgres_outage_holds_acks_and_checking_resumes(
    pg_engine: AsyncEngine,
    fresh_postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    pipeline: Pipeline,
    targets: Targets,
) -> None:
    pg = urlsplit(fresh_postgres_url)
    proxy = TcpProxy(pg.hostname or "127.0.0.1", pg.port or 5432)
    await proxy.start()
    proxied = create_engine(async_url(via_proxy(fresh_postgres_url, proxy.port)))
    client = aioredis.from_url(redis_url, decode_responses=True)
    key = f"{redis_prefix}Websites"
    try:
        owner = await create_user(pg_engine)
        sites = await create_websites(
            pg_engine, owner, [targets.url(f"/up/{i}") for i in range(3)], interval=2
        )
        # One pusher keeps feeding the stream on a direct connection; another one and the
        # worker reach PostgreSQL through the proxy and lose it.
        pipeline.pusher(pg_engine, redis_url, key)
        cut_pusher = pipeline.pusher(proxied, redis_url, key)
        worker_metrics, registry, worker_task = pipeline.worker(proxied, redis_url, key)

        async def some_ticks() -> bool:
            return {t.website_id for t in await ticks(pg_engine)} == set(sites)

        await wait_for(some_ticks, 10, "first ticks")

        proxy.sever()
        before = len(await ticks(pg_engine))

        async def results_held() -> bool:
            summary = await client.xpending(key, REGION)
            return int(summary["pending"]) >= 3

        await wait_for(results_held, 10, "checked results held while PostgreSQL is away")
        for _ in range(10):
            assert await acked_without_tick(pg_engine, client, key) == set()
            await asyncio.sleep(0.2)
        assert len(await ticks(pg_engine)) == before
        assert not worker_task.done()
        assert (registry.get_sample_value("betteruptime_tick_write_failures_total") or 0) > 0
        assert cut_pusher.push_faults._value.get() > 0

        proxy.restore()
        restored = datetime.now(UTC)

        async def caught_up() -> bool:
            fresh = {t.website_id for t in await ticks(pg_engine) if t.checked_at > restored}
            return fresh == set(sites) and len(await ticks(pg_engine)) > before + 3

        await wait_for(caught_up, 30, "checking to resume")
        assert await acked_without_tick(pg_engine, client, key) == set()
        assert (registry.get_sample_value("betteruptime_checks_skipped_stale_total") or 0) == 0
        assert worker_metrics is not None
    finally:
        await pipeline.close()
        await client.aclose()
        await proxy.close()
        await proxied.dispose()


async def test_stale_backlog_is_skipped_not_checked(
    pg_engine: AsyncEngine, redis_url: str, redis_prefix: str, pipeline: Pipeline, targets: Targets
) -> None:
    key = f"{redis_prefix}Websites"
    queue = RedisStreamQueue.from_url(redis_url, key)
    await queue.ensure_group(REGION)  # the region's workers ran before, then stopped
    owner = await create_user(pg_engine)
    await create_websites(
        pg_engine, owner, [targets.url(f"/stale/{i}") for i in range(5)], interval=1
    )
    backlog_pusher = Pusher(pg_engine, queue, PusherConfig(), PusherMetrics(CollectorRegistry()))
    for _ in range(3):
        await backlog_pusher.push_due()
        await asyncio.sleep(1.05)
    await asyncio.sleep(1.1)  # every job is now older than its interval
    backlog = await queue.length()
    assert backlog >= 10
    await queue.close()

    _, registry, _ = pipeline.worker(pg_engine, redis_url, key)
    client = aioredis.from_url(redis_url, decode_responses=True)

    async def drained() -> bool:
        (group,) = await client.xinfo_groups(key)
        return int(group["pending"]) == 0 and group["lag"] == 0

    await wait_for(drained, 10, "the backlog to be acknowledged")
    await client.aclose()
    assert targets.hits == {}
    assert await ticks(pg_engine) == []
    assert registry.get_sample_value("betteruptime_checks_skipped_stale_total") == backlog


async def test_poison_and_malformed_messages_are_acked_and_counted(
    pg_engine: AsyncEngine, redis_url: str, redis_prefix: str, pipeline: Pipeline, targets: Targets
) -> None:
    key = f"{redis_prefix}Websites"
    queue = RedisStreamQueue.from_url(redis_url, key)
    await queue.ensure_group(REGION)
    owner = await create_user(pg_engine)
    (site,) = await create_websites(pg_engine, owner, [targets.url("/poison")], interval=300)
    now = datetime.now(UTC)
    job = CheckJob(site, targets.url("/poison"), 2.0, 300, now, now + timedelta(minutes=5))
    await queue.publish([job])
    # A consumer that read it and died, so it is already delivered once.
    (delivery,) = await queue.read(REGION, "crashed", 10, 0)
    await queue.client.xadd(key, {"website_id": str(uuid.uuid4()), "url": ""})
    await queue.close()

    _, registry, _ = pipeline.worker(
        pg_engine, redis_url, key, max_deliveries=1, claim_idle_seconds=0.3
    )
    client = aioredis.from_url(redis_url, decode_responses=True)

    async def both_acked() -> bool:
        (group,) = await client.xinfo_groups(key)
        return int(group["pending"]) == 0 and group["lag"] == 0

    await wait_for(both_acked, 10, "poison messages to be acknowledged")
    await client.aclose()
    assert registry.get_sample_value("betteruptime_messages_poison_total") == 2
    assert targets.hits == {}
    assert await ticks(pg_engine) == []
    assert delivery.deliveries == 1
