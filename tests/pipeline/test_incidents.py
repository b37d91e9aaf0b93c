"""Incident scenarios: ticks through the real batch writer, decisions by the real evaluator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.evaluator import Clock, Evaluator, EvaluatorConfig, utcnow
from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.db import incidents as incidents_db
from betteruptime.db.models import Evaluation, Incident, IncidentEvent, Region, Website
from betteruptime.db.session import create_sessionmaker
from betteruptime.db.ticks import StreakOptions, TickRow, register_region, write_ticks
from betteruptime.rules.incidents import Thresholds
from betteruptime.rules.status import Status
from tests.pipeline.helpers import create_user, create_websites

REGIONS = ("ap", "eu", "us")
INTERVAL = 30
OPTIONS = StreakOptions(confirmation_checks=2, recovery_checks=2, recheck_seconds=10)


class World:
    """Websites in three regions, ticks written through the real writer, one evaluator."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.evaluator = self.new_evaluator()
        self.owner = uuid.uuid4()

    def new_evaluator(self, clock: Clock = utcnow) -> Evaluator:
        return Evaluator(
            self.engine,
            EvaluatorConfig(defaults=Thresholds(2, 2)),
            EvaluatorMetrics(CollectorRegistry()),
            clock,
        )

    async def setup(self, count: int = 1, **website: object) -> list[uuid.UUID]:
        self.owner = await create_user(self.engine)
        for region_id in REGIONS:
            await register_region(self.engine, region_id)
        urls = [f"http://127.0.0.1:1/{i}" for i in range(count)]
        ids = await create_websites(self.engine, self.owner, urls, interval=INTERVAL)
        if website:
            async with self.engine.begin() as conn:
                await conn.execute(update(Website).values(**website))
        return ids

    async def tick(
        self,
        region_id: str,
        sites: list[uuid.UUID],
        status: Status,
        *,
        age: float = 0,
    ) -> datetime:
        at = datetime.now(UTC) - timedelta(seconds=age)
        rows = [
            TickRow(
                website_id=site,
                status=status,
                status_code=200 if status is Status.UP else 503,
                response_time_ms=5,
                error=None if status is Status.UP else "status 503",
                scheduled_at=at,
                checked_at=at,
            )
            for site in sites
        ]
        await write_ticks(self.engine, region_id, rows, OPTIONS)
        return at

    async def round(self, statuses: dict[str, Status], sites: list[uuid.UUID]) -> None:
        """One check of every site from each named region, then an evaluation."""
        for region_id, status in statuses.items():
            await self.tick(region_id, sites, status)
        await self.evaluator.evaluate_queued()

    async def incidents(self) -> list[Incident]:
        async with create_sessionmaker(self.engine)() as session:
            return list(await session.scalars(select(Incident).order_by(Incident.started_at)))

    async def events(self, kind: str | None = None) -> list[IncidentEvent]:
        query = select(IncidentEvent).order_by(IncidentEvent.id)
        if kind is not None:
            query = query.where(IncidentEvent.kind == kind)
        async with create_sessionmaker(self.engine)() as session:
            return list(await session.scalars(query))


UP, DOWN = Status.UP, Status.DOWN


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return World(engine)


async def test_a_flapping_site_inside_the_thresholds_opens_nothing(world: World) -> None:
    sites = await world.setup()
    for i in range(8):
        status = DOWN if i % 2 else UP
        await world.round(dict.fromkeys(REGIONS, status), sites)
    assert await world.incidents() == []
    assert await world.events() == []


async def test_one_failing_region_of_three_opens_nothing(world: World) -> None:
    sites = await world.setup()
    for _ in range(5):
        await world.round({"ap": UP, "eu": DOWN, "us": UP}, sites)
    assert await world.incidents() == []


async def test_two_of_three_open_exactly_one_incident_and_recovery_resolves_it(
    world: World,
) -> None:
    (site,) = await world.setup()
    await world.round(dict.fromkeys(REGIONS, UP), [site])
    first_failure = await world.tick("eu", [site], DOWN)
    await world.tick("us", [site], DOWN)
    await world.tick("ap", [site], UP)
    await world.evaluator.evaluate_queued()
    assert await world.incidents() == []  # one failure each: not confirmed yet
    for _ in range(3):
        await world.round({"ap": UP, "eu": DOWN, "us": DOWN}, [site])

    (incident,) = await world.incidents()
    assert incident.state == "open"
    assert incident.started_at == first_failure
    assert incident.cause == {"error": "status 503", "status_code": 503, "regions": ["eu", "us"]}
    assert [e.kind for e in await world.events()] == ["opened"]

    # One good check is not a recovery; the second is.
    await world.round(dict.fromkeys(REGIONS, UP), [site])
    assert (await world.incidents())[0].state == "open"
    await world.round(dict.fromkeys(REGIONS, UP), [site])
    (incident,) = await world.incidents()
    assert (incident.state, incident.resolved_by) == ("resolved", None)
    assert incident.resolved_at is not None
    assert [e.kind for e in await world.events()] == ["opened", "resolved"]
    resolved = (await world.events("resolved"))[0]
    assert resolved.detail["by"] == "recovery"
    assert resolved.detail["duration_seconds"] > 0

    # Steady UP afterwards changes nothing.
    for _ in range(3):
        await world.round(dict.fromkeys(REGIONS, UP), [site])
    assert len(await world.events()) == 2


async def test_acknowledge_stops_reminders(world: World) -> None:
    (site,) = await world.setup(reminder_minutes=1)
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    (incident,) = await world.incidents()
    now = datetime.now(UTC)
    evaluator = world.evaluator
    assert await evaluator.send_reminders(now) == 0  # not due yet
    assert await evaluator.send_reminders(now + timedelta(seconds=61)) == 1
    assert await evaluator.send_reminders(now + timedelta(seconds=90)) == 0  # just reminded
    assert await evaluator.send_reminders(now + timedelta(seconds=122)) == 1
    async with create_sessionmaker(world.engine)() as session:
        assert await incidents_db.acknowledge(session, incident.id, world.owner, now)
    assert await evaluator.send_reminders(now + timedelta(minutes=30)) == 0
    assert [e.kind for e in await world.events()] == [
        "opened",
        "reminder",
        "reminder",
        "acknowledged",
    ]


async def test_reminders_are_off_by_default(world: World) -> None:
    (site,) = await world.setup()
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    assert len(await world.incidents()) == 1
    assert await world.evaluator.send_reminders(datetime.now(UTC) + timedelta(days=1)) == 0


async def test_two_alerters_send_one_reminder(world: World) -> None:
    (site,) = await world.setup(reminder_minutes=5)
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    later = datetime.now(UTC) + timedelta(minutes=6)
    others = [world.new_evaluator() for _ in range(4)]
    sent = await asyncio.gather(*(e.send_reminders(later) for e in [world.evaluator, *others]))
    assert sum(sent) == 1
    assert len(await world.events("reminder")) == 1


async def test_a_hand_resolved_incident_reopens_only_after_a_recovery(world: World) -> None:
    (site,) = await world.setup()
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    (incident,) = await world.incidents()
    async with create_sessionmaker(world.engine)() as session:
        row = await incidents_db.get_incident(session, world.owner, incident.id)
        assert row is not None
        assert await incidents_db.resolve_by_hand(session, row, world.owner, datetime.now(UTC))

    # Still failing: evaluated on every failing check, and by the time rules, yet no new one.
    for _ in range(4):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    await world.evaluator.reevaluate_incidents(datetime.now(UTC))
    (incident,) = await world.incidents()
    assert (incident.state, incident.resolved_by) == ("resolved", world.owner)

    # It recovers (two good checks), then fails again: a new incident opens.
    for _ in range(2):
        await world.round({"eu": UP, "us": UP}, [site])
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    first, second = await world.incidents()
    assert (first.state, second.state) == ("resolved", "open")
    assert [e.kind for e in await world.events()] == ["opened", "resolved", "opened"]


async def test_a_hand_resolve_of_a_recovered_site_holds_nothing(world: World) -> None:
    (site,) = await world.setup()
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    await world.round({"eu": UP, "us": UP}, [site])  # recovering, still open
    (incident,) = await world.incidents()
    async with create_sessionmaker(world.engine)() as session:
        row = await incidents_db.get_incident(session, world.owner, incident.id)
        assert row is not None
        await incidents_db.resolve_by_hand(session, row, world.owner, datetime.now(UTC))
    await world.round({"eu": UP, "us": UP}, [site])  # recovered
    for _ in range(2):
        await world.round({"eu": DOWN, "us": DOWN}, [site])
    assert [i.state for i in await world.incidents()] == ["resolved", "open"]


async def test_a_region_that_stops_reporting_does_not_count_as_down(world: World) -> None:
    (site,) = await world.setup()
    stale = 2 * INTERVAL + 31
    # us failed, but long ago: it is unknown, not down. eu fails now, ap is up: 1 of 2.
    for age in (stale + 20, stale + 10):
        await world.tick("us", [site], DOWN, age=age)
    for _ in range(3):
        await world.round({"ap": UP, "eu": DOWN}, [site])
    assert await world.incidents() == []


async def test_an_incident_resolves_when_its_failing_regions_go_silent_and_the_rest_recovered(
    world: World,
) -> None:
    (site,) = await world.setup()
    # Opened 100 s ago by 2 of 3 (as an evaluator saw it then).
    for age in (100, 95):
        for region_id, status in {"ap": UP, "eu": DOWN, "us": DOWN}.items():
            await world.tick(region_id, [site], status, age=age)
    then = datetime.now(UTC) - timedelta(seconds=95)
    await world.new_evaluator(clock=lambda: then).evaluate_queued()
    assert [i.state for i in await world.incidents()] == ["open"]
    # Since then eu and us stopped reporting (95 s > 2 intervals + 30 s: stale) while ap
    # keeps saying UP. Steady UP queues nothing: only the time rules can notice.
    await world.tick("ap", [site], UP)
    async with world.engine.begin() as conn:
        await conn.execute(delete(Evaluation))
    await world.evaluator.run_time_rules(datetime.now(UTC))
    (incident,) = await world.incidents()
    assert incident.state == "resolved"


async def test_an_incident_stays_open_while_no_region_reports(world: World) -> None:
    (site,) = await world.setup()
    for age in (100, 95):
        await world.tick("eu", [site], DOWN, age=age)
    then = datetime.now(UTC) - timedelta(seconds=95)
    await world.new_evaluator(clock=lambda: then).evaluate_queued()
    await world.evaluator.run_time_rules(datetime.now(UTC))
    assert [i.state for i in await world.incidents()] == ["open"]


async def test_two_evaluators_at_once_never_open_two_incidents(world: World) -> None:
    sites = await world.setup(count=30)
    for region_id in ("eu", "us"):
        await world.tick(region_id, sites, DOWN)
        await world.tick(region_id, sites, DOWN)
    evaluators = [world.new_evaluator() for _ in range(4)]
    # All of them evaluate all the websites at once, bypassing the queue's claims: only
    # the database's unique key and the conditional writes keep them apart.
    for _ in range(3):
        await asyncio.gather(*(e.evaluate(sites) for e in evaluators))
    incidents = await world.incidents()
    assert len(incidents) == 30
    assert len({i.website_id for i in incidents}) == 30
    assert len(await world.events("opened")) == 30

    for region_id in ("eu", "us"):
        await world.tick(region_id, sites, UP)
        await world.tick(region_id, sites, UP)
    for _ in range(3):
        await asyncio.gather(*(e.evaluate(sites) for e in evaluators))
    assert {i.state for i in await world.incidents()} == {"resolved"}
    assert len(await world.events("resolved")) == 30


async def test_the_database_refuses_a_second_unresolved_incident(world: World) -> None:
    (site,) = await world.setup()
    now = datetime.now(UTC)
    values = {"website_id": site, "started_at": now, "detected_at": now, "cause": {}}
    async with world.engine.begin() as conn:
        await conn.execute(insert(Incident).values(id=uuid.uuid4(), state="open", **values))
        await conn.execute(insert(Incident).values(id=uuid.uuid4(), state="resolved", **values))
    with pytest.raises(IntegrityError):
        async with world.engine.begin() as conn:
            await conn.execute(
                insert(Incident).values(id=uuid.uuid4(), state="acknowledged", **values)
            )


async def test_queued_evaluations_are_claimed_once_by_concurrent_alerters(world: World) -> None:
    sites = await world.setup(count=40)
    for region_id in ("eu", "us"):
        await world.tick(region_id, sites, DOWN)
        await world.tick(region_id, sites, DOWN)
    evaluators = [world.new_evaluator() for _ in range(3)]
    outcomes = await asyncio.gather(*(e.evaluate_queued() for e in evaluators))
    assert sum(o.opened for o in outcomes) == 40
    async with world.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Evaluation)) == 0


@pytest.mark.parametrize("count", [25, 19])
async def test_the_outage_guard_holds_when_one_regions_every_check_fails(
    world: World, count: int
) -> None:
    # A single-region monitor (as `serve` is) whose own network fails: every check fails.
    async with world.engine.begin() as conn:
        await conn.execute(update(Region).values(votes_ignored_since=None))
    sites = await world.setup(count=count)
    only = {"eu": DOWN}
    await world.tick("eu", sites, DOWN)
    ignored = await world.evaluator.judge_regions(datetime.now(UTC))
    for _ in range(3):
        await world.round(only, sites)
    incidents = await world.incidents()
    if count >= 20:
        assert ignored == ["eu"]
        assert incidents == []
        # The region recovers: its votes count again.
        await world.tick("eu", sites, UP)
        assert await world.evaluator.judge_regions(datetime.now(UTC)) == []
    else:
        # Too few websites to judge a region: they are ordinary failures.
        assert ignored == []
        assert len(incidents) == count


async def test_per_website_thresholds_are_honoured(world: World) -> None:
    strict, lenient = await world.setup(count=2)
    async with world.engine.begin() as conn:
        await conn.execute(
            update(Website)
            .where(Website.id == strict)
            .values(confirmation_checks=3, recovery_checks=3)
        )
        await conn.execute(update(Website).where(Website.id == lenient).values(regions_required=1))
    # One region of three failing twice: the lenient site (1 region is enough) opens; the
    # strict one needs a third failure and the default quorum, 2 of 3.
    for _ in range(2):
        await world.round({"ap": UP, "eu": DOWN, "us": DOWN}, [strict])
        await world.round({"ap": UP, "eu": DOWN, "us": UP}, [lenient])
    assert [i.website_id for i in await world.incidents()] == [lenient]
    await world.round({"ap": UP, "eu": DOWN, "us": DOWN}, [strict])
    assert {i.website_id for i in await world.incidents()} == {strict, lenient}

    # Recovery of the strict site takes three good checks.
    for expected in ("open", "open", "resolved"):
        await world.round(dict.fromkeys(REGIONS, UP), [strict])
        (incident,) = [i for i in await world.incidents() if i.website_id == strict]
        assert incident.state == expected
