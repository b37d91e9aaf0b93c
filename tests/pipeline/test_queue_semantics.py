"""The in-process queue and the Redis stream queue behave alike: pending, ack, claim, trim."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import RedisError

from betteruptime.queue.base import CheckJob, CheckQueue, GroupMissing
from betteruptime.queue.local import LocalQueue
from betteruptime.queue.redis_streams import RedisStreamQueue
from tests.conftest import TEST_REDIS_URL, unavailable


def make_jobs(n: int) -> list[CheckJob]:
    now = datetime.now(UTC)
    return [
        CheckJob(
            website_id=uuid.uuid4(),
            url=f"http://127.0.0.1:9/{i}",
            timeout_seconds=2.0,
            interval_seconds=30,
            scheduled_at=now,
            deadline=now + timedelta(seconds=30),
        )
        for i in range(n)
    ]


@pytest.fixture(params=["local", "redis"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[CheckQueue]:
    if request.param == "local":
        yield LocalQueue()
        return
    # Its own key (not the redis_prefix fixture) so the local variant never needs Redis.
    q = RedisStreamQueue.from_url(TEST_REDIS_URL, f"bu-test-{uuid.uuid4().hex[:12]}:Websites")
    try:
        await q.client.ping()
    except (OSError, RedisError) as exc:
        await q.close()
        unavailable("Redis", exc)
    yield q
    await q.client.delete(q.key)
    await q.close()


async def test_every_group_gets_every_message_and_consumers_share_one_group(
    queue: CheckQueue,
) -> None:
    jobs = make_jobs(10)
    assert await queue.ensure_group("eu") is True
    assert await queue.ensure_group("eu") is False  # BUSYGROUP tolerated
    await queue.ensure_group("us")
    ids = await queue.publish(jobs)
    assert len(ids) == 10

    first = await queue.read("eu", "eu-1", 4, 0)
    second = await queue.read("eu", "eu-2", 100, 0)
    assert [d.message_id for d in first + second] == ids
    assert [d.job for d in first + second] == jobs
    assert all(d.deliveries == 1 for d in first + second)
    assert await queue.read("eu", "eu-1", 100, 0) == []

    us = await queue.read("us", "us-1", 100, 0)
    assert [d.message_id for d in us] == ids


async def test_ack_removes_pending_once(queue: CheckQueue) -> None:
    await queue.ensure_group("eu")
    ids = await queue.publish(make_jobs(3))
    await queue.read("eu", "eu-1", 10, 0)
    assert await queue.pending_count("eu") == 3
    assert await queue.ack("eu", ids[:2]) == 2
    assert await queue.ack("eu", ids[:2]) == 0
    assert await queue.pending_count("eu") == 1


async def test_claim_moves_idle_pending_and_counts_deliveries(queue: CheckQueue) -> None:
    await queue.ensure_group("eu")
    ids = await queue.publish(make_jobs(2))
    await queue.read("eu", "dead", 10, 0)

    early = await queue.claim_idle("eu", "alive", 60_000, "0-0", 10)
    assert early.deliveries == []

    await asyncio.sleep(0.05)
    claimed = await queue.claim_idle("eu", "alive", 20, "0-0", 10)
    assert [d.message_id for d in claimed.deliveries] == ids
    assert [d.deliveries for d in claimed.deliveries] == [2, 2]
    assert claimed.cursor == "0-0"

    await asyncio.sleep(0.05)
    again = await queue.claim_idle("eu", "other", 20, "0-0", 10)
    assert [d.deliveries for d in again.deliveries] == [3, 3]
    assert await queue.ack("eu", ids) == 2
    assert await queue.pending_count("eu") == 0


async def test_claim_follows_the_cursor(queue: CheckQueue) -> None:
    await queue.ensure_group("eu")
    ids = await queue.publish(make_jobs(25))
    await queue.read("eu", "dead", 100, 0)
    await asyncio.sleep(0.05)
    seen: list[str] = []
    cursor = "0-0"
    calls = 0
    while True:
        claimed = await queue.claim_idle("eu", "alive", 20, cursor, 10)
        seen += [d.message_id for d in claimed.deliveries]
        cursor = claimed.cursor
        calls += 1
        if cursor == "0-0":
            break
    assert seen == ids
    assert calls >= 3


async def test_read_blocks_until_a_message_arrives(queue: CheckQueue) -> None:
    await queue.ensure_group("eu")
    reader = asyncio.create_task(queue.read("eu", "eu-1", 10, 2000))
    await asyncio.sleep(0.1)
    assert not reader.done()
    ids = await queue.publish(make_jobs(1))
    got = await asyncio.wait_for(reader, 3)
    assert [d.message_id for d in got] == ids


async def test_missing_group_is_reported(queue: CheckQueue) -> None:
    await queue.ensure_group("eu")
    with pytest.raises(GroupMissing):
        await queue.read("nobody", "c", 10, 0)


async def test_trim_keeps_what_a_slow_group_has_not_acknowledged(queue: CheckQueue) -> None:
    await queue.ensure_group("fast")
    await queue.ensure_group("slow")
    ids = await queue.publish(make_jobs(10))
    fast = await queue.read("fast", "f", 100, 0)
    await queue.ack("fast", [d.message_id for d in fast])
    slow = await queue.read("slow", "s", 4, 0)  # 4 delivered, 6 not yet
    await queue.ack("slow", [d.message_id for d in slow[:2]])  # ids[2], ids[3] pending

    result = await queue.trim(1000)
    assert result.acknowledged_removed == 2
    assert result.capped_removed == 0
    assert await queue.length() == 8
    claimed = await queue.claim_idle("slow", "s2", 0, "0-0", 100)
    assert [d.message_id for d in claimed.deliveries] == ids[2:4]
    rest = await queue.read("slow", "s", 100, 0)
    assert [d.message_id for d in rest] == ids[4:]

    await queue.ack("slow", ids)
    result = await queue.trim(1000)
    assert result.acknowledged_removed == 8
    assert await queue.length() == 0


async def test_trim_cap_drops_and_counts_unacknowledged_entries(queue: CheckQueue) -> None:
    await queue.ensure_group("slow")
    ids = await queue.publish(make_jobs(12))
    result = await queue.trim(5)
    assert result.acknowledged_removed == 0
    assert result.capped_removed == 7
    assert result.length == 5
    rest = await queue.read("slow", "s", 100, 0)
    assert [d.message_id for d in rest] == ids[7:]


async def test_redis_malformed_message_is_delivered_as_malformed(
    redis_url: str, redis_prefix: str
) -> None:
    q = RedisStreamQueue.from_url(redis_url, f"{redis_prefix}Websites")
    try:
        await q.ensure_group("eu")
        await q.client.xadd(q.key, {"website_id": "not-a-uuid", "url": "x"})
        (delivery,) = await q.read("eu", "c", 10, 0)
        assert delivery.job is None
        assert delivery.malformed
    finally:
        await q.close()
