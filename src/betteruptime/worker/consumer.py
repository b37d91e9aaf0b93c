"""The worker: read → check concurrently → hand results to the batch writer (writer.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.registry import Checkers
from betteruptime.checks.result import CheckResult
from betteruptime.db.certificates import CertificateRow, record_certificates
from betteruptime.db.faults import DATABASE_FAULTS
from betteruptime.db.ticks import StreakOptions, TickRow, register_region
from betteruptime.log import get_logger
from betteruptime.queue.base import CheckJob, CheckQueue, Delivery, GroupMissing, QueueUnavailable
from betteruptime.retry import Backoff, Loops, sleep
from betteruptime.worker.metrics import WorkerMetrics
from betteruptime.worker.recovery import recover_forever
from betteruptime.worker.writer import BatchWriter, WriterConfig

READ_MAX = 1000


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
    # Threshold defaults the batch write needs to queue evaluations and bring rechecks
    # forward.
    streak: StreakOptions = field(default_factory=StreakOptions)


class Worker:
    """One consumer in its region's group; many of them share the region's messages."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: CheckQueue,
        checkers: Checkers,
        config: WorkerConfig,
        metrics: WorkerMetrics,
        *,
        log: Any = None,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._checkers = checkers
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
        self._checks: set[asyncio.Task[None]] = set()
        # Certificates to write, and what was written per website (see _note_certificate).
        self._certificates: dict[uuid.UUID, CertificateRow] = {}
        self._certificates_written: dict[uuid.UUID, tuple[str, bool]] = {}
        self._certificate_writer: asyncio.Task[None] | None = None
        # Read only when at least this many slots are free: fewer, larger reads.
        self._min_read = max(1, min(config.concurrency // 8, 64))
        self._slots_changed = asyncio.Event()
        self._writer = BatchWriter(
            engine,
            queue,
            WriterConfig(
                region_id=config.region_id,
                batch_size=config.batch_size,
                flush_interval_seconds=config.flush_interval_seconds,
                # Results waiting for a write also hold back reads.
                max_buffered=max(4 * config.batch_size, config.concurrency),
                shutdown_write_seconds=config.shutdown_write_seconds,
                streak=config.streak,
            ),
            metrics,
            self._log,
            self._held,
            self._slots_changed,
        )
        metrics.in_flight.set_function(lambda: self._in_flight)

    @property
    def stored(self) -> int:
        """Return how many ticks this worker has written."""
        return self._writer.stored

    # -- reading and dispatching -------------------------------------------------------

    def _can_read(self, needed: int) -> bool:
        return self._config.concurrency - self._in_flight >= needed and not self._writer.full

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
            elif d.job.kind not in self._checkers:
                # A known kind missing from this worker's registry (a kind unknown to this
                # release never decodes): no worker could check it, so redelivery would
                # only loop until MAX_DELIVERIES.
                self._poison(d, f"no checker for kind {d.job.kind.value!r}")
            elif d.job.deadline <= now:
                # Invariant 3: a newer job for this website exists by now; checking this
                # one would only add load after an outage.
                skipped += 1
                self._writer.ack_later(d.message_id)
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
        self._writer.ack_later(d.message_id)
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
            result = await self._checkers[job.kind].check(job.url, job.timeout_seconds, job.options)
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
            status=result.status,
            status_code=result.status_code,
            response_time_ms=result.response_time_ms,
            error=result.error,
            scheduled_at=job.scheduled_at,
            checked_at=result.checked_at,
            degraded=result.degraded,
        )
        self._writer.add(message_id, row)
        if result.tls is not None:
            self._note_certificate(job, result)

    def _note_certificate(self, job: CheckJob, result: CheckResult) -> None:
        """Write the certificate soon when it differs from the last one this worker wrote."""
        tls = result.tls
        assert tls is not None
        # Certificates change every few months: write only what this worker has not
        # written yet, so https checks cost no extra statement per batch.
        if self._certificates_written.get(job.website_id) == (tls.fingerprint, tls.hostname_ok):
            return
        self._certificates[job.website_id] = CertificateRow(
            website_id=job.website_id,
            expires_at=tls.expires_at,
            issuer=tls.issuer,
            hostname_ok=tls.hostname_ok,
            fingerprint=tls.fingerprint,
            checked_at=result.checked_at,
        )
        if self._certificate_writer is None or self._certificate_writer.done():
            self._certificate_writer = asyncio.create_task(self._write_certificates())

    async def _write_certificates(self) -> None:
        """Store the certificates noted so far; a failure leaves them for the next try."""
        # Gather a moment's worth of certificates into one statement.
        await asyncio.sleep(self._config.flush_interval_seconds)
        rows = list(self._certificates.values())
        try:
            await record_certificates(self._engine, rows)
        except DATABASE_FAULTS as exc:  # auxiliary facts: never hold the ticks for them
            self._log.warning("certificate write failed", error=type(exc).__name__)
            return
        for row in rows:
            self._certificates_written[row.website_id] = (row.fingerprint, row.hostname_ok)
            if self._certificates.get(row.website_id) is row:
                del self._certificates[row.website_id]

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
            except GroupMissing as exc:
                # The stream or the group vanished (e.g. the key was deleted while this
                # read was blocked): recreate both and read on. The pusher's next XADD
                # lands in the recreated stream, so checking resumes within an interval.
                self._metrics.queue_faults.inc()
                self._log.warning("consumer group missing; recreating it", error=str(exc))
                await self.ensure_group(stop)
                # A group that keeps vanishing must not turn this into a busy loop.
                await sleep(stop, backoff.next_delay())
                continue
            except QueueUnavailable as exc:
                self._metrics.queue_faults.inc()
                delay = backoff.next_delay()
                self._log.warning("read failed; retrying", error=str(exc), retry_in=delay)
                await sleep(stop, delay)
                continue
            self.dispatch(deliveries)

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
                await sleep(stop, delay)

    async def _register_region(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                if await register_region(self._engine, self._config.region_id):
                    self._log.info("region registered")
                return
            except DATABASE_FAULTS as exc:  # database not there yet: wait for it
                delay = backoff.next_delay()
                self._log.warning(
                    "cannot register region; retrying",
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    retry_in=delay,
                )
                await sleep(stop, delay)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until stop is set, then finish in-flight checks, write, ack and return.

        Raise LoopFailed (after draining like a requested stop) when the read, write or
        recovery loop ends without a stop: a worker never lives on without consuming.
        """
        self._log.info(
            "worker started",
            concurrency=self._config.concurrency,
            batch_size=self._config.batch_size,
            claim_idle_seconds=self._config.claim_idle_seconds,
        )
        await self._register_region(stop)
        await self.ensure_group(stop)
        loops = Loops(stop, self._log)
        loops.start("write", self._writer.run())
        consumers = [
            loops.start("read", self._read_forever(stop)),
            loops.start(
                "recovery",
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
                ),
            ),
        ]
        try:
            # Both end once stop is set, by a signal or by a loop that failed.
            await asyncio.wait(consumers)
            # Let running checks end (each within its timeout), then write and
            # acknowledge what they produced.
            if self._checks:
                await asyncio.gather(*self._checks, return_exceptions=True)
        except asyncio.CancelledError:
            # Cancelled from outside: stop as on a signal, or the loops below never end.
            stop.set()
            raise
        finally:
            self._writer.drain()
            try:
                await loops.wait()
                if self._certificate_writer is not None:
                    # The last certificates noted: written before the engine goes away.
                    await asyncio.gather(self._certificate_writer, return_exceptions=True)
            finally:
                self._log.info("worker stopped", stored=self.stored, unacked=len(self._held))

    def _claimed(self, deliveries: list[Delivery]) -> int:
        fresh = [d for d in deliveries if d.message_id not in self._held]
        if fresh:
            self._metrics.claimed.inc(len(fresh))
            self._log.info("claimed idle messages", count=len(fresh))
        return self.dispatch(fresh)
