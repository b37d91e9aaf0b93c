"""Invariant 5 against a Redis of the test's own: every fault at every step is waited out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis._parsers.base import BaseParser
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.queue.base import CheckJob, GroupMissing, QueueError, QueueUnavailable
from betteruptime.queue.redis_streams import RedisStreamQueue, classify
from betteruptime.rules.checks import CheckKind
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.pipeline.helpers import (
    PrivateRedis,
    Targets,
    create_user,
    create_websites,
    free_port,
    http_targets,
    ticks,
    wait_for,
)

REGION = "eu-west-1"
KEY = "Betteruptime:Websites"
INTERVAL = 3
# Below the worker's default read block time, so a DEBUG SLEEP can outlast it.
SOCKET_TIMEOUT = 1.5


async def command(client: Any, *args: str) -> Any:
    """Return the reply of a raw command (admin commands redis-py has no typed method for)."""
    return await client.execute_command(*args)


@dataclass
class Rig:
    """A pusher and a worker on a private Redis, and the test's own client to it."""

    engine: AsyncEngine
    redis: PrivateRedis
    admin: aioredis.Redis
    sites: list[object]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    queues: list[RedisStreamQueue] = field(default_factory=list)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    worker_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start one pusher and one worker."""
        pusher_queue = RedisStreamQueue.from_url(self.redis.url, KEY, SOCKET_TIMEOUT)
        worker_queue = RedisStreamQueue.from_url(self.redis.url, KEY, SOCKET_TIMEOUT)
        self.queues += [pusher_queue, worker_queue]
        pusher = Pusher(
            self.engine,
            pusher_queue,
            PusherConfig(poll_seconds=0.1),
            PusherMetrics(CollectorRegistry()),
        )
        checker = HttpChecker(TargetPolicy(allow_private=True))
        self.checker = checker
        worker = Worker(
            self.engine,
            worker_queue,
            {CheckKind.HTTP: checker},
            # Claims run every 0.5 s, so a fault of a second or two meets them too.
            WorkerConfig(region_id=REGION, worker_id="w1", claim_idle_seconds=1.0),
            WorkerMetrics(self.registry),
        )
        self.tasks.append(asyncio.create_task(pusher.run(self.stop)))
        self.worker_task = asyncio.create_task(worker.run(self.stop))
        self.tasks.append(self.worker_task)

    def queue_faults(self) -> float:
        return self.registry.get_sample_value("betteruptime_queue_faults_total") or 0.0

    async def every_site_checked_since(self, t: datetime) -> bool:
        fresh = {x.website_id for x in await ticks(self.engine) if x.checked_at > t}
        return fresh == set(self.sites)

    async def worker_blocked_in_read(self) -> bool:
        clients = await self.admin.client_list()
        return any(c.get("cmd") == "xreadgroup" and "b" in c.get("flags", "") for c in clients)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)
        for q in self.queues:
            await q.close()
        await self.checker.close()


@pytest.fixture
async def targets() -> AsyncIterator[Targets]:
    async with http_targets() as t:
        yield t


@pytest.fixture
async def rig(pg_engine: AsyncEngine, targets: Targets, tmp_path: Path) -> AsyncIterator[Rig]:
    redis = PrivateRedis(tmp_path, "--enable-debug-command", "yes")
    await redis.start()
    admin = aioredis.from_url(redis.url, decode_responses=True)
    owner = await create_user(pg_engine)
    sites = await create_websites(
        pg_engine, owner, [targets.url(f"/up/{i}") for i in range(3)], interval=INTERVAL
    )
    r = Rig(pg_engine, redis, admin, list(sites))
    try:
        yield r
    finally:
        if r.tasks:
            await r.close()
        await admin.aclose()
        redis.kill()


async def running(r: Rig) -> None:
    """Start the rig and wait until every website has been checked once."""
    start = datetime.now(UTC)
    r.start()
    await wait_for(lambda: r.every_site_checked_since(start), 15, "first ticks")


async def resumed(r: Rig, since: datetime) -> None:
    """Fail unless every website is checked again within two intervals of since."""
    # Two intervals, plus a second for the shared machine's scheduling noise.
    left = (since + timedelta(seconds=2 * INTERVAL + 1) - datetime.now(UTC)).total_seconds()
    await wait_for(lambda: r.every_site_checked_since(since), max(left, 0.5), "checks to resume")
    assert r.worker_task is not None and not r.worker_task.done()


async def test_stream_deleted_while_worker_blocked_checking_resumes_within_two_intervals(
    rig: Rig,
) -> None:
    await running(rig)
    await wait_for(rig.worker_blocked_in_read, 5, "the worker to block in XREADGROUP")
    deleted = datetime.now(UTC)
    assert await rig.admin.delete(KEY) == 1
    await resumed(rig, deleted)
    # The blocked read was answered UNBLOCKED, counted, and the group recreated.
    assert rig.queue_faults() >= 1
    groups = await rig.admin.xinfo_groups(KEY)
    assert [g["name"] for g in groups] == [REGION]


async def client_kill(r: Rig) -> None:
    # Several times over a second and a half: the blocked read, acks and claims all
    # lose their connection at some point.
    for _ in range(6):
        await command(r.admin, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        await asyncio.sleep(0.25)


async def group_destroy(r: Rig) -> None:
    await wait_for(r.worker_blocked_in_read, 5, "the worker to block in XREADGROUP")
    assert await r.admin.xgroup_destroy(KEY, REGION) == 1


async def debug_sleep(r: Rig) -> None:
    # Longer than the socket timeout: reads, acks and claims time out meanwhile.
    sleeper = aioredis.from_url(r.redis.url)
    try:
        await command(sleeper, "DEBUG", "SLEEP", str(SOCKET_TIMEOUT + 1.5))
    finally:
        await sleeper.aclose()


async def readonly(r: Rig) -> None:
    # A replica of a master that does not exist answers every write READONLY, as a
    # demoted primary does after a failover; it keeps its data set meanwhile.
    await command(r.admin, "REPLICAOF", "127.0.0.1", str(free_port()))
    await asyncio.sleep(2.5)
    await command(r.admin, "REPLICAOF", "NO", "ONE")


@pytest.mark.parametrize(
    "fault",
    [client_kill, group_destroy, debug_sleep, readonly],
    ids=["client-kill", "xgroup-destroy", "debug-sleep", "readonly"],
)
async def test_worker_survives_a_redis_fault_and_resumes(rig: Rig, fault: object) -> None:
    await running(rig)
    await fault(rig)  # type: ignore[operator]
    await resumed(rig, datetime.now(UTC))
    if fault is not client_kill:
        # redis-py reconnects by itself after a killed connection; the others reach us.
        assert rig.queue_faults() >= 1


async def test_group_creation_waits_out_readonly_then_checking_starts(rig: Rig) -> None:
    await command(rig.admin, "REPLICAOF", "127.0.0.1", str(free_port()))
    rig.start()  # the stream does not exist: creating the group meets READONLY
    await wait_for(lambda: asyncio.sleep(0, rig.queue_faults() >= 2), 10, "refused creations")
    assert await rig.admin.exists(KEY) == 0
    await command(rig.admin, "REPLICAOF", "NO", "ONE")
    await resumed(rig, datetime.now(UTC))
    groups = await rig.admin.xinfo_groups(KEY)
    assert [g["name"] for g in groups] == [REGION]


def _job() -> CheckJob:
    import uuid

    now = datetime.now(UTC)
    return CheckJob(uuid.uuid4(), "http://127.0.0.1:9/", 1.0, 60, now, now + timedelta(minutes=1))


async def test_queue_classifies_the_errors_of_every_step(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path)
    await redis.start()
    queue = RedisStreamQueue.from_url(redis.url, KEY, SOCKET_TIMEOUT)
    admin = aioredis.from_url(redis.url, decode_responses=True)
    try:
        assert await queue.ensure_group(REGION) is True
        assert await queue.ensure_group(REGION) is False  # BUSYGROUP is no error
        await queue.publish([_job()])

        # The stream deleted: each step finds its group missing.
        await admin.delete(KEY)
        with pytest.raises(GroupMissing):
            await queue.read(REGION, "c", 10, 0)
        with pytest.raises(GroupMissing):
            await queue.claim_idle(REGION, "c", 0, "0-0", 10)
        with pytest.raises(GroupMissing):
            await queue.pending_count(REGION)

        # Deleted or its group destroyed while a read is blocked: UNBLOCKED / NOGROUP.
        destroyers: list[Callable[[], Awaitable[Any]]] = [
            lambda: admin.delete(KEY),
            lambda: admin.xgroup_destroy(KEY, REGION),
        ]
        for destroy in destroyers:
            assert await queue.ensure_group(REGION) is True
            blocked = asyncio.create_task(queue.read(REGION, "c", 10, 500))
            await asyncio.sleep(0.2)
            await destroy()
            with pytest.raises(GroupMissing):
                await blocked

        # A read-only replica refuses group creation, reads, acks and claims.
        await command(admin, "REPLICAOF", "127.0.0.1", str(free_port()))
        for step in (
            lambda: queue.ensure_group("other"),
            lambda: queue.read(REGION, "c", 10, 0),
            lambda: queue.ack(REGION, ["1-1"]),
            lambda: queue.claim_idle(REGION, "c", 0, "0-0", 10),
            lambda: queue.publish([_job()]),
        ):
            with pytest.raises(QueueUnavailable, match="READONLY"):
                await step()
    finally:
        await queue.close()
        await admin.aclose()
        redis.kill()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("LOADING Redis is loading the dataset in memory", QueueUnavailable),
        ("READONLY You can't write against a read only replica.", QueueUnavailable),
        (
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is 'no'.",
            QueueUnavailable,
        ),
        ("OOM command not allowed when used memory > 'maxmemory'.", QueueUnavailable),
        ("BUSY Redis is busy running a script.", QueueUnavailable),
        ("TRYAGAIN Multiple keys request during rehashing of slot", QueueUnavailable),
        ("CLUSTERDOWN The cluster is down", QueueUnavailable),
        ("UNBLOCKED the stream key no longer exists", GroupMissing),
        ("NOGROUP No such key 'k' or consumer group 'g'", GroupMissing),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", QueueError),
    ],
)
def test_error_replies_map_to_queue_errors(reply: str, expected: type[QueueError]) -> None:
    # The error redis-py itself builds from the reply, as it does on the wire.
    parser: Any = BaseParser
    assert type(classify(parser.parse_error(reply))) is expected
