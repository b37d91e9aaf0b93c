"""The evaluator: queued websites and time rules in, incidents and their events out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.metrics import EvaluatorMetrics
from betteruptime.db import evaluation as db
from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.incidents import enqueue_evaluations
from betteruptime.db.session import create_sessionmaker
from betteruptime.log import get_logger
from betteruptime.retry import Backoff, Loops, sleep
from betteruptime.rules.incidents import (
    DEFAULT_REGION_FAILURE_RATIO,
    GUARD_MIN_WEBSITES,
    GUARD_WINDOW_SECONDS,
    Action,
    Thresholds,
    decide,
    probe_broken,
)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EvaluatorConfig:
    """Defaults of the thresholds, the guard's line and how often each loop runs."""

    defaults: Thresholds = field(default_factory=Thresholds)
    region_failure_ratio: float = DEFAULT_REGION_FAILURE_RATIO
    guard_min_websites: int = GUARD_MIN_WEBSITES
    guard_window_seconds: float = GUARD_WINDOW_SECONDS
    poll_seconds: float = 1.0  # longest wait for newly queued websites
    time_seconds: float = 5.0  # period of the time rules
    batch_size: int = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation round changed."""

    evaluated: int = 0
    opened: int = 0
    resolved: int = 0


class Evaluator:
    """Opens and resolves incidents; any number of evaluators may run against one database."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: EvaluatorConfig,
        metrics: EvaluatorMetrics,
        clock: Clock = utcnow,
    ) -> None:
        self._engine = engine
        self._sessions = create_sessionmaker(engine)
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._log = get_logger(__name__).bind(component="evaluator")
        # The time rules, run in order on every time tick. A new rule (late heartbeats,
        # say) is one more coroutine function taking `now`.
        self.time_rules: list[tuple[str, Callable[[datetime], Awaitable[object]]]] = [
            ("outage guard", self.judge_regions),
            ("unresolved incidents", self.reevaluate_incidents),
            ("reminders", self.send_reminders),
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate queued websites and run the time rules until stop is set.

        Raise LoopFailed (after stopping the other loop) when one of them ends without a
        stop: database faults are retried, anything else is a bug that ends the process.
        """
        self._log.info("evaluator started")
        loops = Loops(stop, self._log)
        loops.start("evaluate", self._queue_loop(stop))
        loops.start("time rules", self._time_loop(stop))
        try:
            await loops.wait()
        finally:
            self._log.info("evaluator stopped")

    async def _queue_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                outcome = await self.evaluate_queued()
            except DATABASE_FAULTS as exc:  # the database is away: log, back off, retry
                self._fault("evaluate", exc)
                await sleep(stop, backoff.next_delay())
                continue
            backoff.reset()
            if outcome.evaluated < self._config.batch_size:
                # A full batch means more are waiting: go again at once.
                await sleep(stop, self._config.poll_seconds)

    async def _time_loop(self, stop: asyncio.Event) -> None:
        # Runs on the clock, not on ticks: a region that stops reporting produces no
        # ticks, and a reminder is due whether or not anything is checked.
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set():
            await self.run_time_rules(self._clock())
            next_at += self._config.time_seconds
            # After a slow round, start again from now instead of catching up in a burst.
            next_at = max(next_at, loop.time())
            await sleep(stop, next_at - loop.time())

    async def run_time_rules(self, now: datetime) -> None:
        """Run every time rule once; a failing rule is logged and the others still run."""
        for name, rule in self.time_rules:
            try:
                await rule(now)
            except DATABASE_FAULTS as exc:  # the database is away: the next tick tries again
                self._fault(name, exc)

    def _fault(self, loop: str, exc: Exception) -> None:
        self._metrics.faults.labels(loop).inc()
        self._log.warning(
            "evaluator round failed; retrying",
            loop=loop,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )

    async def evaluate_queued(self) -> Outcome:
        """Claim a batch of queued websites and evaluate them."""
        ids = await db.claim_evaluations(self._engine, self._config.batch_size)
        if not ids:
            return Outcome()
        return await self.evaluate(ids)

    async def evaluate(self, website_ids: Collection[uuid.UUID]) -> Outcome:
        """Decide for each website and apply the decisions, one transaction per change."""
        now = self._clock()
        async with self._sessions() as session:
            ignored = await db.ignored_regions(session)
            facts = await db.load_facts(session, website_ids, self._config.defaults)
        opened = resolved = 0
        for fact in facts:
            decision = decide(
                fact.regions,
                fact.thresholds,
                fact.interval_seconds,
                now,
                incident_open=fact.incident is not None,
                awaiting_recovery=fact.held,
                ignored_regions=ignored,
            )
            if decision.action is Action.OPEN:
                assert decision.started_at is not None  # decide() sets it for OPEN
                try:
                    async with self._sessions() as session:
                        incident_id = await db.open_incident(
                            session, fact.website_id, decision.started_at, decision.cause, now
                        )
                        await session.commit()
                except IntegrityError:
                    # The website was deleted since its facts were read (its foreign key
                    # fails); the other websites of the batch still get their decision.
                    continue
                if incident_id is not None:
                    opened += 1
                    self._log.info(
                        "incident opened",
                        website=str(fact.website_id),
                        incident=str(incident_id),
                        regions=decision.cause.get("regions"),
                    )
            elif decision.action is Action.RESOLVE and fact.incident is not None:
                async with self._sessions() as session:
                    done = await db.resolve_incident(session, fact.incident, now)
                    await session.commit()
                if done:
                    resolved += 1
                    self._log.info(
                        "incident resolved",
                        website=str(fact.website_id),
                        incident=str(fact.incident.id),
                    )
            elif decision.action is Action.CLEAR_HOLD:
                async with self._sessions() as session:
                    await db.clear_hold(session, fact.website_id)
                    await session.commit()
        self._metrics.evaluations.inc(len(facts))
        self._metrics.opened.inc(opened)
        self._metrics.resolved.inc(resolved)
        return Outcome(len(facts), opened, resolved)

    async def reevaluate_incidents(self, now: datetime) -> Outcome:
        """Evaluate every website with an unresolved incident or a hold (stale regions)."""
        del now  # evaluate() reads the clock itself
        async with self._sessions() as session:
            ids = await db.websites_with_incidents(session)
        outcome = Outcome()
        for start in range(0, len(ids), self._config.batch_size):
            part = await self.evaluate(ids[start : start + self._config.batch_size])
            outcome = Outcome(
                outcome.evaluated + part.evaluated,
                outcome.opened + part.opened,
                outcome.resolved + part.resolved,
            )
        return outcome

    async def send_reminders(self, now: datetime) -> int:
        """Write a 'reminder' event for each open incident whose reminder is due."""
        sent = 0
        async with self._sessions() as session:
            due = await db.due_reminders(session, now)
        for item in due:
            async with self._sessions() as session:
                if await db.record_reminder(session, item, now):
                    sent += 1
                await session.commit()
        self._metrics.reminders.inc(sent)
        return sent

    async def judge_regions(self, now: datetime) -> Sequence[str]:
        """Apply the probe-side outage guard to every region; return those ignored now."""
        since = now - timedelta(seconds=self._config.guard_window_seconds)
        async with self._sessions() as session:
            loads = await db.region_loads(session, since)
            ignored = await db.ignored_regions(session)
        changed = False
        for load in loads:
            was = load.region_id in ignored
            broken = probe_broken(
                load,
                currently_broken=was,
                ratio=self._config.region_failure_ratio,
                min_websites=self._config.guard_min_websites,
            )
            if broken == was:
                continue
            async with self._sessions() as session:
                # Conditional: when several alerters judge at once, one logs the change.
                won = await db.set_votes_ignored(session, load.region_id, broken, now)
                await session.commit()
            if broken:
                ignored.add(load.region_id)
            else:
                ignored.discard(load.region_id)
            changed = True
            if won:
                self._log.warning(
                    "region votes ignored: most of its checks fail at once"
                    if broken
                    else "region votes counted again",
                    region=load.region_id,
                    websites=load.websites,
                    failing=load.failing,
                )
        for load in loads:
            self._metrics.votes_ignored.labels(load.region_id).set(
                1 if load.region_id in ignored else 0
            )
        if changed:
            # Votes changed weight: websites failing anywhere may now open or resolve.
            async with self._sessions() as session:
                ids = await db.websites_failing(session)
                await enqueue_evaluations(session, ids, now)
                await session.commit()
        return sorted(ignored)
