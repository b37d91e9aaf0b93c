"""Incidents to notifications end to end in one process: real evaluator, real receivers.

Region results are written with the worker's own batch writer, as three regions would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.evaluator import Evaluator, EvaluatorConfig
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.alerting.notifier import Notifier
from betteruptime.db import incidents
from betteruptime.db.models import Website
from betteruptime.db.session import create_sessionmaker
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.rules.status import Status
from tests.alerting.helpers import PUBLIC_URL, add_channel, notifier
from tests.notify.receivers import Mailbox, Webhooks, mailbox, webhooks
from tests.pipeline.helpers import create_user, create_websites

REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")


@dataclass
class World:
    engine: AsyncEngine
    owner: uuid.UUID
    site: uuid.UUID
    hooks: Webhooks
    box: Mailbox
    evaluator: Evaluator
    notifier: Notifier
    round: int = 0

    async def checks(self, *statuses: Status) -> None:
        """Store one check per region (in REGIONS order), then evaluate and notify."""
        self.round += 1
        now = datetime.now(UTC)
        for region, status in zip(REGIONS, statuses, strict=True):
            down = status is Status.DOWN
            row = TickRow(
                website_id=self.site,
                status=status,
                status_code=503 if down else 200,
                response_time_ms=12,
                error="HTTP 503" if down else None,
                scheduled_at=now,
                checked_at=now,
            )
            await write_ticks(self.engine, region, [row])
        await self.evaluator.evaluate_queued()
        await self.notifier.drain()

    def titles(self) -> dict[str, list[str]]:
        """Return the titles each channel received, in order."""
        return {
            "json": [r.json["title"] for r in self.hooks.on("/json")],
            "form": [r.form["title"] for r in self.hooks.on("/form")],
            "mailto": [str(m["Subject"]) for m in self.box.messages],
        }


async def world(engine: AsyncEngine, hooks: Webhooks, box: Mailbox, **site: object) -> World:
    owner = await create_user(engine)
    [site_id] = await create_websites(engine, owner, ["https://shop.example.com/"], interval=60)
    async with engine.begin() as conn:
        await conn.execute(update(Website).where(Website.id == site_id).values(name="Shop", **site))
    for region in REGIONS:
        await register_region(engine, region)
    await add_channel(engine, owner, hooks.url("json", "/json"), [site_id])
    await add_channel(engine, owner, hooks.url("form", "/form"), [site_id])
    await add_channel(engine, owner, box.url(), [site_id])
    evaluator = Evaluator(engine, EvaluatorConfig(), EvaluatorMetrics(CollectorRegistry()))
    return World(engine, owner, site_id, hooks, box, evaluator, notifier(engine))


UP, DOWN = Status.UP, Status.DOWN


async def test_two_of_three_regions_failing_send_one_down_then_one_up_per_channel(
    engine: AsyncEngine,
) -> None:
    async with webhooks() as hooks, mailbox() as box:
        w = await world(engine, hooks, box)
        await w.checks(DOWN, DOWN, UP)  # first failures: not confirmed yet
        assert w.titles() == {"json": [], "form": [], "mailto": []}
        await w.checks(DOWN, DOWN, UP)  # confirmed in two of three regions
        await w.checks(DOWN, DOWN, UP)  # still down: nothing new
        await w.checks(DOWN, DOWN, DOWN)
        down = ["DOWN: Shop"]
        assert w.titles() == {"json": down, "form": down, "mailto": down}
        [message] = [r.json["message"] for r in hooks.on("/json")]
        assert "Shop (https://shop.example.com/) is down." in message
        assert "HTTP 503" in message
        assert "eu-west-1" in message and "us-east-1" in message
        assert "ap-south-1" not in message
        assert f"{PUBLIC_URL}/incidents/" in message

        await w.checks(UP, UP, UP)
        await w.checks(UP, UP, UP)  # recovered (two good checks)
        await w.checks(UP, UP, UP)
        both = ["DOWN: Shop", "UP: Shop"]
        assert w.titles() == {"json": both, "form": both, "mailto": both}
        up = hooks.on("/json")[1].json["message"]
        assert "Shop (https://shop.example.com/) is up again after" in up
        assert "Resolved:" in up and "Started:" in up


async def test_one_failing_region_of_three_sends_nothing(engine: AsyncEngine) -> None:
    async with webhooks() as hooks, mailbox() as box:
        w = await world(engine, hooks, box)
        for _ in range(4):
            await w.checks(DOWN, UP, UP)
        assert w.titles() == {"json": [], "form": [], "mailto": []}


async def test_acknowledge_stops_reminders(engine: AsyncEngine) -> None:
    async with webhooks() as hooks, mailbox() as box:
        w = await world(engine, hooks, box, reminder_minutes=5)
        await w.checks(DOWN, DOWN, DOWN)
        await w.checks(DOWN, DOWN, DOWN)
        now = datetime.now(UTC)
        await w.evaluator.send_reminders(now + timedelta(minutes=6))
        await w.notifier.drain()
        assert w.titles()["json"] == ["DOWN: Shop", "STILL DOWN: Shop"]
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            [incident] = (await incidents.open_incidents(session, [w.site])).values()
            assert await incidents.acknowledge(session, incident.id, w.owner, now)
        for minutes in (12, 30, 60):
            await w.evaluator.send_reminders(now + timedelta(minutes=minutes))
        await w.notifier.drain()
        expected = ["DOWN: Shop", "STILL DOWN: Shop", "ACKNOWLEDGED: Shop"]
        assert w.titles() == {"json": expected, "form": expected, "mailto": expected}
