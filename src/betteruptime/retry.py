"""Retrying for every long-running loop: exponential backoff and a sleep that a stop ends."""

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
