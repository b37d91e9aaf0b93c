"""Detection end to end: a real target flips, the pusher, three regions' workers over Redis
and the evaluator open exactly one incident, then resolve it; the `alerter` command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.evaluator import Evaluator, EvaluatorConfig
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.db.migrate import upgrade_to_head
from betteruptime.db.models import Incident, IncidentEvent, WebsiteStatus
from betteruptime.db.session import create_engine
from betteruptime.db.ticks import StreakOptions, TickRow, register_region, write_ticks
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.incidents import Thresholds
from betteruptime.rules.status import Status
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.conftest import async_url
from tests.pipeline.helpers import (
    START_SECONDS,
    create_user,
    create_websites,
    free_port,
    spawn,
    stop_process,
    wait_for,
    wait_for_log,
)

REGIONS = ("ap", "eu", "us")


@dataclass
class Flip:
    """A local HTTP target answering 200 or 503, as the test says."""

    url: str
    status: int = 200


@pytest.fixture
async def flip() -> AsyncIterator[Flip]:
    port = free_port()
    target = Flip(url=f"http://127.0.0.1:{port}/health")

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(status=target.status, text="state")

    app = web.Application()
    app.router.add_get("/health", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield target
    await runner.cleanup()


@pytest.fixture
async def pg(fresh_postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(async_url(fresh_postgres_url))
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


async def _count(
    engine: AsyncEngine, model: type[IncidentEvent] | type[Incident], **where: str
) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def test_a_site_going_down_opens_one_incident_and_recovering_resolves_it(
    pg: AsyncEngine, flip: Flip, redis_url: str, redis_prefix: str
) -> None:
    owner = await create_user(pg)
    (site,) = await create_websites(pg, owner, [flip.url], interval=3, timeout=2)
    stream = f"{redis_prefix}Websites"
    stop = asyncio.Event()
    queues = [RedisStreamQueue.from_url(redis_url, stream) for _ in range(len(REGIONS) + 1)]
    checkers = [HttpChecker(TargetPolicy(allow_private=True)) for _ in REGIONS]
    streak = StreakOptions(confirmation_checks=2, recovery_checks=2, recheck_seconds=1)
    tasks = [
        asyncio.create_task(
            Pusher(
                pg, queues[0], PusherConfig(poll_seconds=0.2), PusherMetrics(CollectorRegistry())
            ).run(stop)
        ),
        asyncio.create_task(
            Evaluator(
                pg,
                EvaluatorConfig(defaults=Thresholds(2, 2), poll_seconds=0.2, time_seconds=1),
                EvaluatorMetrics(CollectorRegistry()),
            ).run(stop)
        ),
    ]
    for region, queue, checker in zip(REGIONS, queues[1:], checkers, strict=True):
        config = WorkerConfig(region_id=region, worker_id=f"{region}-1", streak=streak)
        worker = Worker(
            pg, queue, {CheckKind.HTTP: checker}, config, WorkerMetrics(CollectorRegistry())
        )
        tasks.append(asyncio.create_task(worker.run(stop)))

    async def all_up_twice() -> bool:
        async with pg.connect() as conn:
            rows = (await conn.execute(select(WebsiteStatus.status, WebsiteStatus.streak))).all()
        return len(rows) == 3 and all(s == "UP" and n >= 2 for s, n in rows)

    async def opened() -> bool:
        return await _count(pg, IncidentEvent, kind="opened") > 0

    async def resolved() -> bool:
        return await _count(pg, IncidentEvent, kind="resolved") > 0

    try:
        # The warm-up (every loop started, two rounds of checks) has the start-up budget;
        # what is timed is the detection below.
        await wait_for(all_up_twice, START_SECONDS, "two good checks from every region")
        flip.status = 503
        went_down = asyncio.get_running_loop().time()
        await wait_for(opened, 30, "the incident to open")
        # Interval 3 s: the first failure brings the next check forward to 1 s after it,
        # so confirmation (2 failures) costs about one recheck, not another interval.
        detection = asyncio.get_running_loop().time() - went_down
        assert detection < 10, detection
        await asyncio.sleep(4)  # more failing checks: still one incident, one event
        assert await _count(pg, Incident) == 1
        assert await _count(pg, IncidentEvent, kind="opened") == 1
        async with pg.connect() as conn:
            incident = (await conn.execute(select(Incident.__table__))).one()
        assert incident.state == "open"
        assert incident.website_id == site
        assert incident.cause["status_code"] == 503
        assert len(incident.cause["regions"]) >= 2

        flip.status = 200
        await wait_for(resolved, 30, "the incident to resolve")
        await asyncio.sleep(3)
        assert await _count(pg, IncidentEvent, kind="resolved") == 1
        assert await _count(pg, Incident, state="resolved") == 1
        assert await _count(pg, Incident) == 1
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        for queue in queues:
            await queue.close()
        for checker in checkers:
            await checker.close()


async def test_the_alerter_command_opens_incidents_and_stops_cleanly(
    pg: AsyncEngine, fresh_postgres_url: str, tmp_path: Path
) -> None:
    owner = await create_user(pg)
    sites = await create_websites(pg, owner, [f"http://127.0.0.1:1/{i}" for i in range(3)])
    env = {"DATABASE_URL": fresh_postgres_url, "ALERTER_POLL_SECONDS": "0.2"}
    alerters = [spawn(["alerter"], env, tmp_path / f"alerter{i}.log") for i in range(2)]
    try:
        # Start-up has its own budget; the 20 s below are for the incidents alone.
        for i, alerter in enumerate(alerters):
            await wait_for_log(alerter, tmp_path / f"alerter{i}.log", '"evaluator started"')
        for region in REGIONS:
            await register_region(pg, region)
        for _ in range(2):
            now = datetime.now(UTC)
            for region in REGIONS:
                rows = [
                    TickRow(site, Status.DOWN, 503, 5, "status 503", now, now)
                    for i, site in enumerate(sites)
                ]
                await write_ticks(pg, region, rows)

        async def all_open() -> bool:
            return await _count(pg, Incident) == len(sites)

        await wait_for(all_open, 20, "an incident per website")
        await asyncio.sleep(1)
        assert await _count(pg, Incident) == len(sites)
        assert await _count(pg, IncidentEvent, kind="opened") == len(sites)
    finally:
        codes = [await stop_process(p) for p in alerters]
    logs = "".join((tmp_path / f"alerter{i}.log").read_text() for i in range(2))
    assert codes == [0, 0], logs
    assert "evaluator stopped" in logs
