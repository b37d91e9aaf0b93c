"""Housekeeping: named, independent steps (rollups, expiry, …), each on its own period.

Each step runs in its own task, so a slow one (catching up a week of rollups after a
restart) never delays another, and a failing one backs off and retries while the others
carry on. Every step is safe to run in several processes at once; that is each step's
own business (see the modules they call).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from betteruptime.log import get_logger
from betteruptime.retry import Backoff, sleep

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    """One housekeeping job: run(now) every `every_seconds`; its result is logged."""

    name: str
    every_seconds: float
    run: Callable[[datetime], Awaitable[object]]


class Housekeeping:
    """Runs its steps until stopped: each at start, then every period."""

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        clock: Callable[[], datetime] | None = None,
        log: Any = None,
    ) -> None:
        names = [step.name for step in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique: {names}")
        self.steps = tuple(steps)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = log or get_logger(__name__).bind(component="housekeeping")

    async def run_once(self) -> dict[str, object]:
        """Run every step once, one after another; return each step's result by name."""
        return {step.name: await step.run(self._clock()) for step in self.steps}

    async def run(self, stop: asyncio.Event) -> None:
        """Run each step on its period until stop is set; a step running then is cancelled."""
        self._log.info("housekeeping started", steps=[s.name for s in self.steps])
        await asyncio.gather(*(self._loop(step, stop) for step in self.steps))
        self._log.info("housekeeping stopped")

    async def _loop(self, step: Step, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=1.0, maximum=min(300.0, max(step.every_seconds, 1.0)))
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = await _unless_stopped(step.run(self._clock()), stop)
            except _Stopped as stopped:
                self._log.info(
                    "housekeeping step interrupted by the stop",
                    step=step.name,
                    seconds=round(time.monotonic() - started, 3),
                    **({"error": repr(stopped.error)} if stopped.error else {}),
                )
                return
            except Exception as exc:  # a fault in one step: log, back off, retry it alone
                delay = backoff.next_delay()
                self._log.warning(
                    "housekeeping step failed; retrying",
                    step=step.name,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=round(delay, 1),
                )
                await sleep(stop, delay)
                continue
            backoff.reset()
            elapsed = time.monotonic() - started
            if _worth_logging(result):
                self._log.info(
                    "housekeeping step done", step=step.name, result=result, seconds=elapsed
                )
            await sleep(stop, step.every_seconds - elapsed)


class _Stopped(Exception):
    """The stop came while the step ran: it was cancelled (error: what its cleanup raised)."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__(repr(error))
        self.error = error


async def _unless_stopped(run: Awaitable[T], stop: asyncio.Event) -> T:
    """Return run's result, or raise _Stopped once stop is set first and run is cancelled.

    A step can take minutes (REINDEX of a day of millions of ticks) and a process must
    stop within seconds of SIGTERM. Cancelling the task cancels the statement in flight
    (asyncpg sends PostgreSQL a cancel request); every step is written so that whatever
    an interrupted run leaves behind is finished or undone by the next one.
    """
    task = asyncio.ensure_future(run)
    stopped = asyncio.ensure_future(stop.wait())
    interrupted = False
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            interrupted = True
            task.cancel()
            # Wait for its cleanup (a connection back to the pool, a lock released), also
            # when this loop itself is being cancelled.
            await asyncio.wait((task,))
    if interrupted:
        raise _Stopped(None if task.cancelled() else task.exception())
    return task.result()


def _worth_logging(result: object) -> bool:
    """Return False for results that say nothing happened (None, 0, all-zero fields)."""
    if result is None or result == 0:
        return False
    fields = getattr(result, "__dataclass_fields__", None)
    if fields is not None:
        return any(isinstance(v, int) and v for v in (getattr(result, f) for f in fields))
    return True
