"""Acceptance 1: API → pusher → two regions' workers → ticks → GET /status, all real."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from betteruptime.app import create_app
from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.config import Settings
from betteruptime.db.session import create_engine
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status
from betteruptime.scheduler.metrics import PusherMetrics
from betteruptime.scheduler.pusher import Pusher, PusherConfig
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.pipeline.helpers import free_port, http_targets, ticks

REGIONS = ("eu-west-1", "us-east-1")


@pytest.fixture
def settings(
    fresh_postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Settings:
    return Settings(
        database_url=fresh_postgres_url,
        redis_url=redis_url,
        stream_key=f"{redis_prefix}Websites",
        allow_private_targets=True,
        min_interval_seconds=1,
        default_interval_seconds=2,
        default_timeout_seconds=2,
        jwt_secret="t" * 48,
        data_dir=tmp_path,
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
    ):
        reply = await c.post(
            "/user/register",
            json={"username": "alice", "email": "alice@example.com", "password": "s3cret-pass!"},
        )
        assert reply.status_code == 201, reply.text
        c.headers["Authorization"] = f"Bearer {reply.json()['token']}"
        yield c


async def test_websites_get_ticks_from_both_regions_and_status_reports_them(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    queues: list[RedisStreamQueue] = []
    checkers: list[HttpChecker] = []
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    async with http_targets(slow_seconds=4) as targets:
        closed = f"http://127.0.0.1:{free_port()}/"
        cases = {
            "up": (targets.url("/up"), {}),
            "down": (targets.url("/down"), {}),
            "closed": (closed, {}),
            "slow": (targets.url("/slow"), {"timeout_seconds": 1}),
        }
        ids: dict[str, uuid.UUID] = {}
        for name, (url, extra) in cases.items():
            reply = await api.post("/website", json={"url": url, "interval_seconds": 2, **extra})
            assert reply.status_code == 201, reply.text
            ids[name] = uuid.UUID(reply.json()["id"])
        try:
            pusher_queue = RedisStreamQueue.from_url(settings.redis_url or "", settings.stream_key)
            queues.append(pusher_queue)
            pusher = Pusher(
                engine,
                pusher_queue,
                PusherConfig(poll_seconds=0.2),
                PusherMetrics(CollectorRegistry()),
            )
            tasks.append(asyncio.create_task(pusher.run(stop)))
            for region in REGIONS:
                q = RedisStreamQueue.from_url(settings.redis_url or "", settings.stream_key)
                queues.append(q)
                checkers.append(HttpChecker(TargetPolicy(allow_private=True)))
                worker = Worker(
                    engine,
                    q,
                    {CheckKind.HTTP: checkers[-1]},
                    WorkerConfig(region_id=region, worker_id=f"{region}-1", claim_idle_seconds=5),
                    WorkerMetrics(CollectorRegistry()),
                )
                tasks.append(asyncio.create_task(worker.run(stop)))

            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                seen = {(t.website_id, t.region_id) for t in await ticks(engine)}
                if len(seen) == len(ids) * len(REGIONS):
                    break
                await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
            for q in queues:
                await q.close()
            for checker in checkers:
                await checker.close()

    all_ticks = await ticks(engine)
    await engine.dispose()
    for name, wid in ids.items():
        for region in REGIONS:
            mine = [t for t in all_ticks if t.website_id == wid and t.region_id == region]
            assert mine, f"no tick for {name} from {region}"
            tick = mine[0]
            assert tick.response_time_ms is None or 0 <= tick.response_time_ms < 5000
            assert tick.scheduled_at is not None and tick.checked_at >= tick.scheduled_at
            if name == "up":
                assert (tick.status, tick.status_code, tick.error) == (Status.UP, 200, None)
                assert tick.response_time_ms is not None and tick.response_time_ms < 1000
            elif name == "down":
                assert (tick.status, tick.status_code) == (Status.DOWN, 503)
                assert tick.error == "status 503"
            elif name == "closed":
                assert (tick.status, tick.status_code) == (Status.DOWN, None)
                assert tick.error == "connection refused"
            else:
                assert tick.status == Status.DOWN
                assert tick.error == "timeout"
    # Every job appears once per region: no tick written twice.
    keys = [(t.region_id, *t.job_key) for t in all_ticks]
    assert len(keys) == len(set(keys))

    expected = {"up": "UP", "down": "DOWN", "closed": "DOWN", "slow": "DOWN"}
    for name, wid in ids.items():
        reply = await api.get(f"/status/{wid}")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        # No alerter runs here, so nothing is confirmed: overall UP, no incident, and the
        # failing regions visible as they are (incidents have their own tests).
        assert (body["status"], body["incident"]) == ("UP", None)
        assert sorted(r["region_id"] for r in body["regions"]) == list(REGIONS)
        assert {r["status"] for r in body["regions"]} == {expected[name]}
