"""The worker's batch writer: buffer results, write them as one batch, then acknowledge them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.ticks import HeldConnections, StreakOptions, TickRow, write_ticks
from betteruptime.queue.base import CheckQueue, GroupMissing, QueueUnavailable
from betteruptime.retry import Backoff, sleep
from betteruptime.rules.status import Status
from betteruptime.worker.metrics import WorkerMetrics


@dataclass(frozen=True, slots=True)
class WriterConfig:
    """Where results go, how many form a batch and how long a stopping writer keeps trying."""

    region_id: str
    batch_size: int = 500
    flush_interval_seconds: float = 0.2
    # Results waiting for a write beyond this count hold back reads (see BatchWriter.full).
    max_buffered: int = 2000
    # How long a stopping worker keeps retrying a failed write before leaving the batch
    # pending for another worker to claim.
    shutdown_write_seconds: float = 10.0
    streak: StreakOptions = field(default_factory=StreakOptions)


class BatchWriter:
    """Writes buffered results in batches and acknowledges each batch once it is stored.

    held is the worker's set of message ids dispatched and not yet acknowledged: the writer
    removes ids once they are acknowledged (or deliberately left pending at shutdown).
    space is set whenever results leave the buffer, so a reader waiting for room wakes up.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        queue: CheckQueue,
        config: WriterConfig,
        metrics: WorkerMetrics,
        log: Any,
        held: set[str],
        space: asyncio.Event,
    ) -> None:
        self._engine = engine
        # Kept between batches: a batch every 200 ms need not check connections out.
        self._connections = HeldConnections(engine)
        self._queue = queue
        self._config = config
        self._group = config.region_id
        self._metrics = metrics
        self._log = log
        self._held = held
        self._space = space
        self._results: list[tuple[str, TickRow]] = []
        self._ack_only: list[str] = []
        self._flush_now = asyncio.Event()
        self._draining = asyncio.Event()
        self.stored = 0

    @property
    def full(self) -> bool:
        """Return whether enough results wait that reading should pause.

        A database outage must not turn into an unbounded pile of results in memory.
        """
        return len(self._results) >= self._config.max_buffered

    def add(self, message_id: str, row: TickRow) -> None:
        """Buffer one result; a full batch is written at once, a partial one on the timer."""
        self._results.append((message_id, row))
        if len(self._results) >= self._config.batch_size:
            self._flush_now.set()

    def ack_later(self, message_id: str) -> None:
        """Acknowledge a message without a tick (stale, poison) with the next flush."""
        self._ack_only.append(message_id)

    def drain(self) -> None:
        """Write and acknowledge what is buffered, then let run() return.

        Call it once no check can add results any more.
        """
        self._draining.set()
        self._flush_now.set()

    async def run(self) -> None:
        """Flush every flush interval (or when a batch is full) until drained."""
        try:
            while True:
                await sleep(self._flush_now, self._config.flush_interval_seconds)
                self._flush_now.clear()
                await self._flush()
                if self._draining.is_set():
                    # Results added while the last flush awaited its write are still here.
                    await self._flush()
                    return
        finally:
            await self._connections.close()

    def _give_up_at(self) -> float:
        return time.monotonic() + self._config.shutdown_write_seconds

    async def _flush(self) -> None:
        while self._results:
            batch = self._results[: self._config.batch_size]
            if not await self._write(batch):
                # Stopping with the database still down: leave these pending (unacked)
                # for a live worker of the region to claim after CLAIM_IDLE_SECONDS.
                for mid, _ in self._results:
                    self._held.discard(mid)
                self._results.clear()
                break
            del self._results[: len(batch)]
            self._space.set()
            await self._ack([mid for mid, _ in batch])
        if self._ack_only:
            ids, self._ack_only = self._ack_only, []
            await self._ack(ids)

    async def _write(self, batch: list[tuple[str, TickRow]]) -> bool:
        """Return True once the batch is durably stored (retrying with backoff)."""
        backoff = Backoff()
        give_up_at: float | None = None
        rows = [row for _, row in batch]
        while True:
            try:
                result = await write_ticks(
                    self._engine,
                    self._config.region_id,
                    rows,
                    self._config.streak,
                    held=self._connections,
                )
            except DATABASE_FAULTS as exc:  # keep the acks, back off, retry
                self._metrics.write_failures.inc()
                if self._draining.is_set():
                    give_up_at = give_up_at or self._give_up_at()
                    if time.monotonic() >= give_up_at:
                        self._log.error("giving up writing at shutdown", held=len(batch))
                        return False
                delay = backoff.next_delay()
                self._log.warning(
                    "tick write failed; holding acks and retrying",
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    batch=len(rows),
                    retry_in=delay,
                )
                # Wake early when the worker starts draining, to start the give-up clock.
                await sleep(self._draining, delay)
                continue
            break
        self.stored += len(rows)
        self._metrics.batch_size.observe(len(rows))
        up = sum(1 for row in rows if row.status is Status.UP)
        self._metrics.checks.labels(Status.UP.value).inc(up)
        self._metrics.checks.labels(Status.DOWN.value).inc(len(rows) - up)
        self._log.debug("batch written", ticks=len(rows), new=result.inserted)
        return True

    async def _ack(self, ids: list[str]) -> None:
        """Acknowledge stored (or deliberately skipped) messages, retrying until Redis answers."""
        backoff = Backoff()
        give_up_at: float | None = None
        while True:
            try:
                await self._queue.ack(self._group, ids)
                break
            except GroupMissing:
                # Redis lost the group (and with it these pending entries): nothing to ack.
                break
            except QueueUnavailable as exc:
                self._metrics.queue_faults.inc()
                if self._draining.is_set():
                    give_up_at = give_up_at or self._give_up_at()
                    if time.monotonic() >= give_up_at:
                        # The ticks are stored: a redelivery is a no-op insert (invariant 2).
                        break
                delay = backoff.next_delay()
                self._log.warning("ack failed; retrying", error=str(exc), retry_in=delay)
                await sleep(self._draining, delay)
        self._held.difference_update(ids)
