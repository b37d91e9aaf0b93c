"""Check kinds: a website's kind travels with its job, and the worker dispatches by kind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.registry import Checkers, close_checkers, make_checkers
from betteruptime.checks.targets import TargetPolicy
from betteruptime.db.models import TickStatus, WebsiteCertificate
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.queue.base import encode_job
from betteruptime.queue.local import LocalQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.checks.certs import make_authority
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


async def test_a_tcp_job_carries_its_options_to_the_tcp_checker(sqlite_engine: AsyncEngine) -> None:
    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    owner = await create_user(sqlite_engine)
    options = f'{{"host":"127.0.0.1","port":{port}}}'
    await create_websites(
        sqlite_engine, owner, [f"tcp://127.0.0.1:{port}"], kind="tcp", options=options
    )
    await create_websites(
        sqlite_engine, owner, ["heartbeat://x"], kind="heartbeat", options='{"period_seconds":60}'
    )
    queue = LocalQueue()
    await queue.ensure_group(REGION)
    pusher = Pusher(sqlite_engine, queue, PusherConfig(), PusherMetrics(CollectorRegistry()))
    # The heartbeat is never put on the stream: only the tcp website is pushed.
    assert await pusher.push_due() == 1
    checkers = make_checkers(TargetPolicy(allow_private=True))
    worker = Worker(
        sqlite_engine,
        queue,
        checkers,
        WorkerConfig(region_id=REGION, worker_id="w1", flush_interval_seconds=0.05),
        WorkerMetrics(CollectorRegistry()),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: _stored(sqlite_engine), 10, "the tcp tick")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        server.close()
        await close_checkers(checkers)
    (tick,) = await ticks(sqlite_engine)
    assert (tick.status, tick.error) == (Status.UP, None)


async def _stored(engine: AsyncEngine) -> bool:
    return len(await ticks(engine)) == 1


async def test_an_https_check_keeps_its_certificate_beside_the_tick(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    authority = make_authority(tmp_path)
    app = web.Application()

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=authority.server_context())
    await site.start()
    port = runner.addresses[0][1]
    checker = HttpChecker(TargetPolicy(allow_private=True), ssl_context=authority.client_context())
    try:
        await _work_one_job(sqlite_engine, {CheckKind.HTTP: checker}, f"https://127.0.0.1:{port}/")

        async def certificate_stored() -> bool:
            async with sqlite_engine.connect() as conn:
                rows = (await conn.execute(select(WebsiteCertificate.__table__))).all()
            return len(rows) == 1

        await wait_for(certificate_stored, 10, "the certificate row")
    finally:
        await checker.close()
        await runner.cleanup()
    (tick,) = await ticks(sqlite_engine)
    assert tick.status is Status.UP
    async with sqlite_engine.connect() as conn:
        (row,) = (await conn.execute(select(WebsiteCertificate.__table__))).all()
    assert row.issuer == "Test Authority"
    assert row.hostname_ok in (True, 1)
    assert row.notified_days is None


async def test_a_degraded_result_is_stored_as_degraded_and_read_as_up(
    sqlite_engine: AsyncEngine,
) -> None:
    owner = await create_user(sqlite_engine)
    (site,) = await create_websites(sqlite_engine, owner, ["http://127.0.0.1:9/"])
    await register_region(sqlite_engine, REGION)
    now = datetime.now(UTC)
    row = TickRow(site, Status.UP, 200, 900, "degraded: slower than 500 ms", now, now, True)
    assert (await write_ticks(sqlite_engine, REGION, [row])).inserted == 1
    async with sqlite_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT status FROM website_tick"))).scalar_one()
    assert stored == TickStatus.DEGRADED
    (tick,) = await ticks(sqlite_engine)
    assert (tick.status, tick.error) == (Status.UP, "degraded: slower than 500 ms")
