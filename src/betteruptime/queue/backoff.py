"""Exponential backoff with full jitter, for retrying a server that went away."""

from __future__ import annotations

import asyncio
import contextlib
import random


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

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Sleep for the next delay, returning early when stop is set."""
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
