"""Check kinds: a website's kind travels with its job, and the worker dispatches by kind."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.registry import Checkers
from betteruptime.checks.targets import TargetPolicy
from betteruptime.queue.base import encode_job
from betteruptime.queue.local import LocalQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.pipeline.helpers import create_user, create_websites, http_targets, ticks, wait_for

REGION = "eu"


async def test_a_pushed_job_carries_its_websites_kind(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    await create_websites(engine, owner, ["http://127.0.0.1:9/"])
    queue = LocalQueue()
    await queue.ensure_group(REGION)
    pusher = Pusher(engine, queue, PusherConfig(), PusherMetrics(CollectorRegistry()))
    assert await pusher.push_due() == 1
    (delivery,) = await queue.read(REGION, "c", 10, 0)
    assert delivery.job is not None
    assert delivery.job.kind is CheckKind.HTTP
    assert encode_job(delivery.job)["kind"] == "http"


async def _work_one_job(
    engine: AsyncEngine, checkers: Checkers, url: str
) -> tuple[LocalQueue, CollectorRegistry]:
    """Push the website of url, run a worker until its message is acknowledged, stop it."""
    owner = await create_user(engine)
    await create_websites(engine, owner, [url])
    queue = LocalQueue()
    await queue.ensure_group(REGION)
    await Pusher(engine, queue, PusherConfig(), PusherMetrics(CollectorRegistry())).push_due()
    registry = CollectorRegistry()
    worker = Worker(
        engine,
        queue,
        checkers,
        WorkerConfig(region_id=REGION, worker_id="w1", flush_interval_seconds=0.05),
        WorkerMetrics(registry),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def acknowledged() -> bool:
        return await queue.pending_count(REGION) == 0 and await queue.length() == 1

    try:
        await asyncio.sleep(0.2)
        await wait_for(acknowledged, 10, "the message to be acknowledged")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    return queue, registry


async def test_the_worker_checks_a_job_with_the_checker_of_its_kind(
    sqlite_engine: AsyncEngine,
) -> None:
    async with (
        http_targets() as targets,
        HttpChecker(TargetPolicy(allow_private=True)) as checker,
    ):
        _, registry = await _work_one_job(
            sqlite_engine, {CheckKind.HTTP: checker}, targets.url("/up")
        )
        assert targets.hits == {"/up": 1}
    (tick,) = await ticks(sqlite_engine)
    assert tick.status is Status.UP
    assert registry.get_sample_value("betteruptime_messages_poison_total") == 0


async def test_a_job_of_a_kind_without_checker_is_acknowledged_as_poison(
    sqlite_engine: AsyncEngine,
) -> None:
    # What a worker of an older release does with a kind added after it was built.
    async with http_targets() as targets:
        _, registry = await _work_one_job(sqlite_engine, {}, targets.url("/up"))
        assert targets.hits == {}
    assert await ticks(sqlite_engine) == []
    assert registry.get_sample_value("betteruptime_messages_poison_total") == 1
