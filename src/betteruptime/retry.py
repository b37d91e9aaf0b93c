"""What every long-running loop shares: backoff, a sleep a stop ends, and loop supervision."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Coroutine
from typing import Any


class Backoff:
    """Delays that double from initial up to maximum, each drawn at random below the cap."""

    def __init__(self, initial: float = 0.2, maximum: float = 15.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0

    def next_delay(self) -> float:
        """Return the next delay; jitter keeps many workers from retrying in lockstep."""
        cap = min(self.maximum, self.initial * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return random.uniform(cap / 2, cap)

    def reset(self) -> None:
        """Start again from the initial delay (after a success)."""
        self.attempt = 0


async def sleep(stop: asyncio.Event | None, seconds: float) -> bool:
    """Return whether stop is set, after seconds or as soon as stop is set."""
    if stop is None:
        await asyncio.sleep(max(seconds, 0))
        return False
    if seconds <= 0:
        # Still yield, so a loop that never waits cannot starve the others.
        await asyncio.sleep(0)
        return stop.is_set()
    if not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class LoopFailed(Exception):
    """A loop of a component ended while no stop was requested; the process must exit."""

    def __init__(self, loop: str, error: BaseException | None) -> None:
        super().__init__(f"loop {loop!r} ended unexpectedly: {error!r}")
        self.loop = loop
        self.error = error


class Loops:
    """Named tasks of one component: the first to end unexpectedly stops all the others.

    A loop ends expectedly only once stop is set. Any other end, an exception or a plain
    return, is logged once (one error line naming the loop), sets stop so the other loops
    drain as on a requested stop, and makes wait() raise LoopFailed: a process must never
    live on with one of its loops dead, so it exits non-zero and its supervisor restarts it.
    """

    def __init__(self, stop: asyncio.Event, log: Any) -> None:
        self._stop = stop
        self._log = log
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: LoopFailed | None = None

    def start(self, name: str, loop: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Return the task running loop under name, watched from now on."""
        task = asyncio.create_task(loop, name=name)
        task.add_done_callback(self._ended)
        self._tasks.append(task)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None and self._stop.is_set():
            return
        if self.failed is None:
            if isinstance(error, LoopFailed):
                # A nested component already logged its own loop; pass it on as it is.
                self.failed = error
            else:
                self.failed = LoopFailed(task.get_name(), error)
                self._log.error(
                    "loop ended unexpectedly; stopping",
                    loop=task.get_name(),
                    error=repr(error) if error is not None else "returned",
                )
        self._stop.set()

    async def wait(self) -> None:
        """Wait for every loop to end; raise LoopFailed if one ended unexpectedly."""
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise
        if self.failed is not None:
            raise self.failed
