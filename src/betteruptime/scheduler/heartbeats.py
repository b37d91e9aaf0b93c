"""The late loop: a heartbeat silent past its deadline is recorded DOWN, once per silence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.heartbeats import Silence, claim_silences
from betteruptime.db.ticks import TickRow
from betteruptime.log import get_logger
from betteruptime.retry import Backoff, sleep
from betteruptime.rules.status import Status

LATE = "heartbeat: no ping in time"
UNFINISHED = "heartbeat: started but did not finish"


def silence_error(silence: Silence) -> str:
    """Return why a silence is DOWN: a run that never finished, or a ping that never came."""
    started = silence.started_at
    if started is not None and (silence.last_ping_at is None or started > silence.last_ping_at):
        return UNFINISHED
    return LATE


def silence_tick(silence: Silence, now: datetime) -> TickRow:
    """Return the DOWN tick recording a silence (stored like any check's result)."""
    return TickRow(
        website_id=silence.website_id,
        status=Status.DOWN,
        status_code=None,
        response_time_ms=None,
        error=silence_error(silence),
        # One silence, one tick: its deadline is the tick's slot (the claim flips `late`
        # once, so the slot is never written twice).
        scheduled_at=silence.down_at,
        checked_at=now,
    )


async def record_silences(engine: AsyncEngine, now: datetime, limit: int = 500) -> int:
    """Record every heartbeat silent past its deadline as DOWN; return how many."""
    # The claim stores the ticks in its own transaction (see claim_silences): a silence is
    # never marked reported without its DOWN tick.
    silences = await claim_silences(engine, now, limit, lambda s: silence_tick(s, now))
    return len(silences)


async def watch_heartbeats(engine: AsyncEngine, stop: asyncio.Event, poll_seconds: float) -> None:
    """Look for silent heartbeats every poll_seconds until stop is set."""
    log = get_logger(__name__).bind(component="heartbeats")
    backoff = Backoff()
    while not stop.is_set():
        try:
            while await record_silences(engine, datetime.now(UTC)) >= 500 and not stop.is_set():
                pass  # a full claim: look again at once
            backoff.reset()
            delay = poll_seconds
        except DATABASE_FAULTS as exc:  # database away: wait and retry, never end the loop
            delay = backoff.next_delay()
            log.warning("heartbeat scan failed; retrying", error=type(exc).__name__, retry_in=delay)
        await sleep(stop, delay)
