"""The housekeeping loop: named, independent steps, each run on its own period.

Each step is idempotent and safe in several processes at once (the functions behind it
take their own locks), so every pusher (and `serve`) runs this loop without a leader.
A failing step is logged and retried with backoff; the other steps carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db import retention
from betteruptime.log import get_logger
from betteruptime.queue.backoff import Backoff


@dataclass(frozen=True, slots=True)
class Step:
    """One housekeeping job: its name in logs, what it runs (given now), how often."""

    name: str
    run: Callable[[datetime], Awaitable[object]]
    every_seconds: float


def retention_steps(
    engine: AsyncEngine, config: retention.RetentionConfig, every_seconds: float
) -> list[Step]:
    """Return the raw-tick steps: partitions ahead, expiry, compaction of closed days."""
    return [
        Step(
            "tick partitions ahead",
            lambda now: retention.create_partitions_ahead(engine, now, config),
            every_seconds,
        ),
        Step(
            "tick retention",
            lambda now: retention.drop_expired_ticks(engine, now, config),
            every_seconds,
        ),
        Step(
            "tick compaction",
            lambda now: retention.compact_closed_partitions(engine, now, config),
            every_seconds,
        ),
    ]


class Housekeeping:
    """Runs each step at start and then every step.every_seconds, until stopped."""

    def __init__(self, steps: Sequence[Step], *, log: Any = None) -> None:
        self.steps = list(steps)
        self._log = log or get_logger(__name__).bind(component="housekeeping")
        self._backoff = {s.name: Backoff(initial=1.0, maximum=300.0) for s in self.steps}

    async def run_step(self, step: Step, now: datetime) -> bool:
        """Run one step; return False (logged) when it failed."""
        started = time.monotonic()
        try:
            result = await step.run(now)
        except Exception as exc:  # any fault: the loop and the other steps live on
            self._log.warning(
                "housekeeping step failed", step=step.name, error=f"{type(exc).__name__}: {exc}"
            )
            return False
        if result:
            self._log.info(
                "housekeeping step done",
                step=step.name,
                result=str(result),
                seconds=round(time.monotonic() - started, 3),
            )
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Run the steps on their periods until stop is set."""
        self._log.info("housekeeping started", steps=[s.name for s in self.steps])
        due = {s.name: 0.0 for s in self.steps}
        while not stop.is_set():
            for step in self.steps:
                if stop.is_set() or time.monotonic() < due[step.name]:
                    continue
                backoff = self._backoff[step.name]
                if await self.run_step(step, datetime.now(UTC)):
                    backoff.reset()
                    due[step.name] = time.monotonic() + step.every_seconds
                else:
                    due[step.name] = time.monotonic() + min(
                        backoff.next_delay(), step.every_seconds
                    )
            if not due:
                await stop.wait()
                break
            wait = max(0.0, min(due.values()) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait, 0.05))
        self._log.info("housekeeping stopped")
