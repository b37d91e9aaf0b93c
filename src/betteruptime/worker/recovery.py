"""Take over messages left pending by workers that died (XAUTOCLAIM, following the cursor)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from betteruptime.queue.base import CheckQueue, Delivery, GroupMissing, QueueUnavailable
from betteruptime.retry import Backoff, sleep

CLAIM_COUNT = 100


def claim_interval(claim_idle_seconds: float) -> float:
    """Return how often to look for idle messages: half the idle time, within [0.2, 30] s."""
    return min(max(claim_idle_seconds / 2, 0.2), 30.0)


async def claim_once(
    queue: CheckQueue,
    group: str,
    consumer: str,
    min_idle_ms: int,
    dispatch: Callable[[list[Delivery]], int],
    free_slots: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
) -> int:
    """Claim every idle pending message of the group; return how many were dispatched."""
    cursor = "0-0"
    total = 0
    while not stop.is_set():
        # Claim no more than can be checked now: a claimed message that waits for a slot
        # would only go idle again in our own name.
        count = min(CLAIM_COUNT, await free_slots())
        if stop.is_set():
            break
        claimed = await queue.claim_idle(group, consumer, min_idle_ms, cursor, count)
        total += dispatch(claimed.deliveries)
        cursor = claimed.cursor
        if cursor == "0-0":
            break
    return total


async def recover_forever(
    queue: CheckQueue,
    group: str,
    consumer: str,
    claim_idle_seconds: float,
    dispatch: Callable[[list[Delivery]], int],
    free_slots: Callable[[], Awaitable[int]],
    ensure_group: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    log: Any,
) -> None:
    """Every claim_interval, claim messages idle for longer than claim_idle_seconds."""
    backoff = Backoff()
    interval = claim_interval(claim_idle_seconds)
    min_idle_ms = int(claim_idle_seconds * 1000)
    delay = interval
    while not stop.is_set():
        if await sleep(stop, delay):
            break
        try:
            await claim_once(queue, group, consumer, min_idle_ms, dispatch, free_slots, stop)
            backoff.reset()
            delay = interval
        except GroupMissing:
            await ensure_group()
            delay = interval
        except QueueUnavailable as exc:
            delay = backoff.next_delay()
            log.warning("claim failed; retrying", error=str(exc), retry_in=delay)
