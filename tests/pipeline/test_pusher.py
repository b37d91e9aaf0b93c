"""The pusher: no duplicate schedule from concurrent pushers, own intervals, trimming."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.queue.base import CheckJob
from betteruptime.queue.local import LocalQueue
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from tests.pipeline.helpers import create_user, create_websites, stream_entries


async def stream_website_ids(redis_url: str, key: str) -> Counter[str]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return Counter(fields["website_id"] for _, fields in await stream_entries(client, key))
    finally:
        await client.aclose()


async def test_two_pushers_at_once_never_enqueue_a_due_website_twice(
    pg_engine: AsyncEngine, fresh_postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    from betteruptime.db.session import create_engine
    from tests.conftest import async_url

    key = f"{redis_prefix}Websites"
    owner = await create_user(pg_engine)
    sites = await create_websites(
        pg_engine, owner, [f"http://127.0.0.1:9/{i}" for i in range(3000)], interval=3600
    )
    # Separate engines and queues, as two pusher processes would have.
    other_engine = create_engine(async_url(fresh_postgres_url))
    queues = [RedisStreamQueue.from_url(redis_url, key) for _ in range(2)]
    metrics = [PusherMetrics(CollectorRegistry()) for _ in range(2)]
    pushers = [
        Pusher(engine, queue, PusherConfig(batch_size=50), m)
        for engine, queue, m in zip((pg_engine, other_engine), queues, metrics, strict=True)
    ]
    try:
        counts = await asyncio.gather(*(p.push_due() for p in pushers))
        again = await asyncio.gather(*(p.push_due() for p in pushers))
    finally:
        for q in queues:
            await q.close()
        await other_engine.dispose()
    assert sum(counts) == 3000
    assert min(counts) > 0, "both pushers should have claimed a share"
    assert again == [0, 0]
    pushed = await stream_website_ids(redis_url, key)
    assert set(pushed) == {str(s) for s in sites}
    assert max(pushed.values()) == 1


async def test_each_website_is_pushed_on_its_own_interval(
    pg_engine: AsyncEngine, redis_url: str, redis_prefix: str
) -> None:
    key = f"{redis_prefix}Websites"
    owner = await create_user(pg_engine)
    (every_second,) = await create_websites(pg_engine, owner, ["http://a/"], interval=1)
    (every_ten,) = await create_websites(pg_engine, owner, ["http://b/"], interval=10)
    queue = RedisStreamQueue.from_url(redis_url, key)
    pusher = Pusher(
        pg_engine, queue, PusherConfig(poll_seconds=0.5), PusherMetrics(CollectorRegistry())
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    await asyncio.sleep(3.4)
    stop.set()
    await task
    await queue.close()
    pushed = await stream_website_ids(redis_url, key)
    # Pushed at start (t=0), then at t=1, 2, 3 for the 1 s website; once for the 10 s one.
    assert pushed[str(every_second)] in (3, 4)
    assert pushed[str(every_ten)] == 1


@pytest.mark.parametrize("maxlen", [5])
async def test_trim_keeps_unacknowledged_entries_and_counts_cap_drops(
    pg_engine: AsyncEngine, redis_url: str, redis_prefix: str, maxlen: int
) -> None:
    key = f"{redis_prefix}Websites"
    owner = await create_user(pg_engine)
    await create_websites(pg_engine, owner, [f"http://x/{i}" for i in range(8)], interval=3600)
    queue = RedisStreamQueue.from_url(redis_url, key)
    await queue.ensure_group("fast")
    await queue.ensure_group("slow")
    registry = CollectorRegistry()
    pusher = Pusher(pg_engine, queue, PusherConfig(stream_maxlen=maxlen), PusherMetrics(registry))
    try:
        await pusher.push_due()
        fast = await queue.read("fast", "f", 100, 0)
        await queue.ack("fast", [d.message_id for d in fast])
        slow = await queue.read("slow", "s", 2, 0)
        await queue.ack("slow", [slow[0].message_id])  # 1 acked by all, 1 pending, 6 unread

        result = await pusher.trim()
        assert result.acknowledged_removed == 1
        # 7 entries the slow group still needs, cap 5: the 2 oldest are dropped and counted.
        assert result.capped_removed == 2
        assert registry.get_sample_value("betteruptime_stream_cap_dropped_total") == 2
        assert registry.get_sample_value("betteruptime_stream_trimmed_total") == 1
        assert await queue.length() == maxlen
    finally:
        await queue.close()


class CountingQueue(LocalQueue):
    """The in-process queue, counting publish calls (one per claimed batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.publishes = 0

    async def publish(self, jobs: Sequence[CheckJob]) -> list[str]:
        self.publishes += 1
        return await super().publish(jobs)


async def test_websites_due_a_few_milliseconds_apart_are_claimed_in_few_rounds(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    start = datetime.now(UTC)
    # 200 websites falling due 5 ms apart over one second: one round per website would
    # mean 200 claiming queries; the pusher's pause between rounds batches them.
    for i in range(200):
        await create_websites(
            engine,
            owner,
            [f"http://127.0.0.1:9/{i}"],
            interval=3600,
            next_check_at=start + timedelta(milliseconds=5 * i),
        )
    queue = CountingQueue()
    config = PusherConfig(poll_seconds=1.0, min_round_seconds=0.1)
    pusher = Pusher(engine, queue, config, PusherMetrics(CollectorRegistry()))
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    await asyncio.sleep(1.5)
    stop.set()
    await task

    assert await queue.length() == 200
    assert queue.publishes <= 20, f"{queue.publishes} rounds for 200 websites"
