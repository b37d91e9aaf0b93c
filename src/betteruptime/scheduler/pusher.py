"""Claim due websites in bounded batches and enqueue one job per website."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.schedule import DueWebsite, claim_due, next_due_at
from betteruptime.log import get_logger
from betteruptime.queue.base import CheckJob, CheckQueue, GroupMissing, QueueUnavailable, TrimResult
from betteruptime.retry import Backoff, sleep
from betteruptime.scheduler.metrics import PusherMetrics

# What a round waits out: the database or Redis away (a group trimmed against may vanish
# meanwhile). Anything else is a bug and ends the pusher, and with it the process.
_ROUND_FAULTS: tuple[type[Exception], ...] = (QueueUnavailable, GroupMissing, *DATABASE_FAULTS)


@dataclass(frozen=True, slots=True)
class PusherConfig:
    """How much the pusher claims at once, how often it looks, how long the stream may grow."""

    batch_size: int = 1000
    poll_seconds: float = 1.0
    # Shortest pause between rounds. Websites spread evenly over time fall due every few
    # milliseconds; claiming them one round each would cost a query per website. Waiting
    # this long batches them, at the price of at most this much extra lag.
    min_round_seconds: float = 0.1
    stream_maxlen: int = 1_000_000
    trim_every_seconds: float = 5.0


def to_job(website: DueWebsite) -> CheckJob:
    """Return the job of a claimed website; its deadline is one interval after its slot."""
    return CheckJob(
        website_id=website.id,
        url=website.url,
        timeout_seconds=float(website.timeout_seconds),
        interval_seconds=website.interval_seconds,
        scheduled_at=website.scheduled_at,
        deadline=website.scheduled_at + timedelta(seconds=website.interval_seconds),
        kind=website.kind,
        options=website.options or "",
    )


class Pusher:
    """Keeps every enabled website on its own interval by enqueueing it when due."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: CheckQueue,
        config: PusherConfig,
        metrics: PusherMetrics,
        *,
        log: Any = None,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._config = config
        self._metrics = metrics
        self._log = log or get_logger(__name__).bind(component="pusher")
        self._last_trim = 0.0

    async def push_due(self) -> int:
        """Enqueue every website due now, batch by batch; return how many were pushed."""
        total = 0
        while True:
            now = datetime.now(UTC)
            # XADD inside the claiming transaction, commit after. If Redis fails, the
            # transaction rolls back and the websites stay due: nothing is lost. If this
            # process dies between XADD and COMMIT, the rows roll back and the next round
            # pushes them again: at most one duplicate check, each stored under its own
            # message id. The reverse order (commit, then XADD) would lose checks instead.
            async with claim_due(self._engine, now, self._config.batch_size) as due:
                if not due:
                    break
                await self._queue.publish([to_job(w) for w in due])
            total += len(due)
            self._metrics.pushed.inc(len(due))
            if len(due) < self._config.batch_size:
                break
        if total:
            self._log.debug("jobs pushed", count=total)
        return total

    async def trim(self) -> TrimResult:
        """Trim what every group acknowledged; log and count drops past the hard cap."""
        result = await self._queue.trim(self._config.stream_maxlen)
        self._metrics.trimmed.inc(result.acknowledged_removed)
        self._metrics.stream_length.set(result.length)
        if result.capped_removed:
            self._metrics.trim_dropped.inc(result.capped_removed)
            self._log.warning(
                "stream cap dropped unacknowledged jobs",
                dropped=result.capped_removed,
                stream_maxlen=self._config.stream_maxlen,
            )
        return result

    async def run(self, stop: asyncio.Event) -> None:
        """Push at start, then whenever the earliest website falls due, until stop is set."""
        self._log.info(
            "pusher started",
            batch_size=self._config.batch_size,
            poll_seconds=self._config.poll_seconds,
        )
        backoff = Backoff()
        while not stop.is_set():
            try:
                await self.push_due()
                if time.monotonic() - self._last_trim >= self._config.trim_every_seconds:
                    await self.trim()
                    self._last_trim = time.monotonic()
                next_at = await next_due_at(self._engine)
                backoff.reset()
            except _ROUND_FAULTS as exc:  # log, back off, retry
                self._metrics.push_faults.inc()
                delay = backoff.next_delay()
                self._log.warning(
                    "push failed; retrying", error=f"{type(exc).__name__}: {exc}", retry_in=delay
                )
                await sleep(stop, delay)
                continue
            # Sleep until the earliest website is due, but look again within poll_seconds
            # so websites added or changed meanwhile are picked up quickly.
            delay = self._config.poll_seconds
            if next_at is not None:
                delay = min(delay, (next_at - datetime.now(UTC)).total_seconds())
            await sleep(stop, max(delay, self._config.min_round_seconds))
        self._log.info("pusher stopped")
