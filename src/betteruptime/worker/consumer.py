"""The worker loop: read → check concurrently → write a batch of ticks → acknowledge it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.result import CheckResult
from betteruptime.db.ticks import TickRow, register_region, write_ticks
from betteruptime.log import get_logger
from betteruptime.queue.backoff import Backoff
from betteruptime.queue.base import CheckJob, CheckQueue, Delivery, GroupMissing, QueueUnavailable
from betteruptime.rules.status import Status
from betteruptime.worker.metrics import WorkerMetrics
from betteruptime.worker.recovery import recover_forever

READ_MAX = 1000


class Checker(Protocol):
    """Anything that checks a URL and never raises for network faults (HttpChecker)."""

    async def check(self, url: str, timeout_seconds: float) -> CheckResult:
        """Return the outcome of one check."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Who the worker is and how hard it works."""

    region_id: str
    worker_id: str
    concurrency: int = 500
    batch_size: int = 500
    flush_interval_seconds: float = 0.2
    claim_idle_seconds: float = 60.0
    max_deliveries: int = 5
    # Below redis-py's socket timeout; also bounds how long a stop waits for a read.
    block_ms: int = 1000
    # How long a stopping worker keeps retrying a failed write before leaving the batch
    # pending for another worker to claim.
    shutdown_write_seconds: float = 10.0


class Worker:
    """One consumer in its region's group; many of them share the region's messages."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: CheckQueue,
        checker: Checker,
        config: WorkerConfig,
        metrics: WorkerMetrics,
        *,
        log: Any = None,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._checker = checker
        self._config = config
        self._metrics = metrics
        self._log = log or get_logger(__name__).bind(
            component="worker", region=config.region_id, worker=config.worker_id
        )
        self._group = config.region_id
        self._consumer = config.worker_id
        # Message ids dispatched and not yet acknowledged: a claim never doubles them.
        self._held: set[str] = set()
        self._in_flight = 0
        self._results: list[tuple[str, TickRow]] = []
        self._ack_only: list[str] = []
        self._checks: set[asyncio.Task[None]] = set()
        # Read only when at least this many slots are free: fewer, larger reads.
        self._min_read = max(1, min(config.concurrency // 8, 64))
        # Results waiting for a write also hold back reads: a database outage must not
        # turn into an unbounded pile of results in memory.
        self._results_cap = max(4 * config.batch_size, config.concurrency)
        self._slots_changed = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._draining = asyncio.Event()
        metrics.in_flight.set_function(lambda: self._in_flight)
        self.stored = 0

    # -- reading and dispatching -------------------------------------------------------

    def _can_read(self, needed: int) -> bool:
        return (
            self._config.concurrency - self._in_flight >= needed
            and len(self._results) < self._results_cap
        )

    async def _wait_for_slots(self, needed: int, stop: asyncio.Event) -> int:
        """Return the number of free slots once at least needed are free (0 on stop)."""
        while not self._can_read(needed):
            if stop.is_set():
                return 0
            self._slots_changed.clear()
            waiters = [asyncio.ensure_future(self._slots_changed.wait())]
            waiters.append(asyncio.ensure_future(stop.wait()))
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
        return self._config.concurrency - self._in_flight

    def dispatch(self, deliveries: list[Delivery]) -> int:
        """Start checks for fresh jobs; set aside stale, poison and malformed ones for ack."""
        now = datetime.now(UTC)
        started = skipped = 0
        for d in deliveries:
            if d.message_id in self._held:
                continue
            if d.job is None:
                self._poison(d, f"malformed: {d.malformed}")
            elif d.deliveries > self._config.max_deliveries:
                self._poison(d, "delivered too many times")
            elif d.job.deadline <= now:
                # Invariant 3: a newer job for this website exists by now; checking this
                # one would only add load after an outage.
                skipped += 1
                self._ack_only.append(d.message_id)
                self._held.add(d.message_id)
            else:
                started += 1
                self._start_check(d.message_id, d.job)
        if skipped:
            self._metrics.skipped_stale.inc(skipped)
            self._log.info("stale jobs skipped", count=skipped)
        return started

    def _poison(self, d: Delivery, reason: str) -> None:
        self._metrics.poison.inc()
        self._log.warning(
            "poison message acknowledged unchecked",
            message_id=d.message_id,
            deliveries=d.deliveries,
            reason=reason,
        )
        self._ack_only.append(d.message_id)
        self._held.add(d.message_id)

    def _start_check(self, message_id: str, job: CheckJob) -> None:
        self._held.add(message_id)
        self._in_flight += 1
        task = asyncio.create_task(self._check(message_id, job))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, message_id: str, job: CheckJob) -> None:
        started = time.perf_counter()
        try:
            result = await self._checker.check(job.url, job.timeout_seconds)
        except Exception as exc:
            # The checker reports network faults as DOWN; an exception is a bug. Leave the
            # message pending: it is claimed again and, if it keeps failing, ends as poison.
            self._held.discard(message_id)
            self._log.error("check raised", message_id=message_id, error=repr(exc))
            return
        finally:
            self._in_flight -= 1
            self._slots_changed.set()
        self._metrics.check_latency.observe(time.perf_counter() - started)
        self._metrics.queue_lag.observe((result.checked_at - job.scheduled_at).total_seconds())
        row = TickRow(
            website_id=job.website_id,
            message_id=message_id,
            status=result.status,
            status_code=result.status_code,
            response_time_ms=result.response_time_ms,
            error=result.error,
            scheduled_at=job.scheduled_at,
            checked_at=result.checked_at,
        )
        self._results.append((message_id, row))
        if len(self._results) >= self._config.batch_size:
            self._flush_now.set()

    async def _read_forever(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            free = await self._wait_for_slots(self._min_read, stop)
            if stop.is_set():
                break
            try:
                deliveries = await self._queue.read(
                    self._group, self._consumer, min(free, READ_MAX), self._config.block_ms
                )
                backoff.reset()
            except GroupMissing:
                self._log.warning("consumer group missing; recreating it")
                await self.ensure_group(stop)
                continue
            except QueueUnavailable as exc:
                self._metrics.queue_faults.inc()
                delay = backoff.next_delay()
                self._log.warning("read failed; retrying", error=str(exc), retry_in=delay)
                await _sleep(stop, delay)
                continue
            self.dispatch(deliveries)

    def _give_up_at(self) -> float:
        return time.monotonic() + self._config.shutdown_write_seconds

    # -- writing and acknowledging -------------------------------------------------------

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self._config.flush_interval_seconds)
            self._flush_now.clear()
            await self._flush()
            if self._draining.is_set() and not self._checks:
                await self._flush()
                return

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
            self._slots_changed.set()
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
                result = await write_ticks(self._engine, self._config.region_id, rows)
            except Exception as exc:  # any database fault: keep the acks, back off, retry
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
                await _sleep(self._draining, delay)
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
                await _sleep(self._draining, delay)
        self._held.difference_update(ids)

    # -- lifecycle ---------------------------------------------------------------------

    async def ensure_group(self, stop: asyncio.Event | None = None) -> None:
        """Create the region's consumer group if missing, retrying while Redis is away."""
        backoff = Backoff()
        while stop is None or not stop.is_set():
            try:
                if await self._queue.ensure_group(self._group):
                    self._log.info("consumer group created", group=self._group)
                return
            except QueueUnavailable as exc:
                self._metrics.queue_faults.inc()
                delay = backoff.next_delay()
                self._log.warning("cannot create group; retrying", error=str(exc), retry_in=delay)
                await _sleep(stop, delay)

    async def _register_region(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                if await register_region(self._engine, self._config.region_id):
                    self._log.info("region registered")
                return
            except Exception as exc:  # database not there yet: wait for it
                delay = backoff.next_delay()
                self._log.warning(
                    "cannot register region; retrying",
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    retry_in=delay,
                )
                await _sleep(stop, delay)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until stop is set, then finish in-flight checks, write, ack and return."""
        self._log.info(
            "worker started",
            concurrency=self._config.concurrency,
            batch_size=self._config.batch_size,
            claim_idle_seconds=self._config.claim_idle_seconds,
        )
        await self._register_region(stop)
        await self.ensure_group(stop)
        flusher = asyncio.create_task(self._flush_forever())
        recovery = asyncio.create_task(
            recover_forever(
                self._queue,
                self._group,
                self._consumer,
                self._config.claim_idle_seconds,
                self._claimed,
                lambda: self._wait_for_slots(1, stop),
                lambda: self.ensure_group(stop),
                stop,
                self._log,
            )
        )
        try:
            await self._read_forever(stop)
        finally:
            # Stop reading and claiming; let running checks end (each within its timeout),
            # then write and acknowledge what they produced.
            await recovery
            if self._checks:
                await asyncio.gather(*self._checks, return_exceptions=True)
            self._draining.set()
            self._flush_now.set()
            await flusher
            self._log.info("worker stopped", stored=self.stored, unacked=len(self._held))

    def _claimed(self, deliveries: list[Delivery]) -> int:
        fresh = [d for d in deliveries if d.message_id not in self._held]
        if fresh:
            self._metrics.claimed.inc(len(fresh))
            self._log.info("claimed idle messages", count=len(fresh))
        return self.dispatch(fresh)


async def _sleep(stop: asyncio.Event | None, seconds: float) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
