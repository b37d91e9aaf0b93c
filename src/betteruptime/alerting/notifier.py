"""The notifier loop: incident events → one delivery per channel → Apprise, with retries.

At-least-once: an event is fanned out in the transaction that marks it done; a delivery
is leased before it is sent and marked delivered only after Apprise says so. A notifier
killed at any point leaves its events unfanned or its deliveries leased, and a live one
(or itself, restarted) picks them up when the lease runs out. A send that succeeded just
before the kill is sent again: duplicates are possible, losses are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.alerting.messages import EventFacts, compose
from betteruptime.db.outbox import ClaimedDelivery, claim_due, fan_out, record_attempt
from betteruptime.db.session import create_sessionmaker
from betteruptime.log import get_logger
from betteruptime.notify.crypto import ChannelCipher, UndecryptableUrl
from betteruptime.notify.sender import Sender, SendResult
from betteruptime.notify.urls import mask_url
from betteruptime.retry import Backoff, sleep

log = get_logger(__name__)

FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class NotifierConfig:
    """How the notifier claims, sends and retries."""

    public_url: str
    concurrency: int = 20
    poll_seconds: float = 1.0
    lease_seconds: float = 60.0
    max_attempts: int = 5
    # First retry after this many seconds, doubling: 20, 40, 80, 160 s = 5 attempts over
    # about five minutes with the defaults.
    retry_seconds: float = 20.0


def retry_delay(attempts: int, first: float) -> float:
    """Return the wait before the next attempt after `attempts` failed ones (±10 % jitter)."""
    # Jitter keeps a storm of failures against one service from retrying in lockstep.
    base: float = first * 2 ** max(0, attempts - 1)
    return base * random.uniform(0.9, 1.1)


class Notifier:
    """Fans incident events out to channels and sends the deliveries that are due."""

    def __init__(
        self, engine: AsyncEngine, sender: Sender, cipher: ChannelCipher, config: NotifierConfig
    ) -> None:
        self._sessions = create_sessionmaker(engine)
        self._sender = sender
        self._cipher = cipher
        self._config = config
        self._inflight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out and deliver until stop is set; then let sends in flight finish."""
        log.info("notifier started", concurrency=self._config.concurrency)
        backoff = Backoff(initial=0.5, maximum=15.0)
        try:
            while not stop.is_set():
                try:
                    busy = await self.step()
                    backoff.reset()
                except (OSError, DBAPIError, SQLAlchemyError) as exc:
                    # The database went away: wait and try again, never die of it.
                    delay = backoff.next_delay()
                    log.warning(
                        "notifier cannot reach the database",
                        error=type(exc).__name__,
                        retry_in=round(delay, 2),
                    )
                    await sleep(stop, delay)
                    continue
                if not busy:
                    await self._wait(stop)
        finally:
            if self._inflight:
                # Sends end within the timeout; their outcome is recorded, not lost.
                await asyncio.gather(*self._inflight, return_exceptions=True)
            log.info("notifier stopped")

    async def step(self) -> bool:
        """Fan out events and start due deliveries once; return True when there was work."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            fanned = await fan_out(session, FAN_OUT_BATCH, now)
        free = self._config.concurrency - len(self._inflight)
        if free <= 0:
            return fanned > 0
        async with self._sessions() as session:
            claimed = await claim_due(
                session, free, now, timedelta(seconds=self._config.lease_seconds)
            )
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return fanned > 0 or len(claimed) == free

    async def drain(self) -> None:
        """Run steps until nothing is due and nothing is in flight (for tests and tools)."""
        while await self.step() or self._inflight:
            if self._inflight:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)

    async def _wait(self, stop: asyncio.Event) -> None:
        stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        waiters: set[asyncio.Future[Any]] = {stopper, *self._inflight}
        try:
            # Wake on a finished send (a slot freed), on stop, or after the poll interval.
            await asyncio.wait(
                waiters, timeout=self._config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        url: str | None = None
        try:
            url = self._cipher.decrypt(delivery.url_encrypted)
        except UndecryptableUrl as exc:
            result = SendResult(ok=False, error=str(exc), elapsed_ms=0)
        else:
            message = compose(
                EventFacts(
                    kind=delivery.event_kind,
                    at=delivery.event_at,
                    incident_id=str(delivery.incident_id),
                    started_at=delivery.incident_started_at,
                    resolved_at=delivery.incident_resolved_at,
                    cause=delivery.incident_cause or {},
                    website_name=delivery.website_name,
                    website_url=delivery.website_url,
                ),
                self._config.public_url,
            )
            result = await self._sender.send(url, message.title, message.body, message.severity)
        now = datetime.now(UTC)
        retry_at = None
        if not result.ok and delivery.attempts < self._config.max_attempts:
            delay = retry_delay(delivery.attempts, self._config.retry_seconds)
            retry_at = now + timedelta(seconds=delay)
        (log.info if result.ok else log.warning)(
            "notification sent" if result.ok else "notification failed",
            delivery_id=delivery.id,
            channel_id=str(delivery.channel_id),
            channel=mask_url(url) if url else None,
            event_kind=delivery.event_kind,
            incident_id=str(delivery.incident_id),
            attempt=delivery.attempts,
            error=result.error,
            elapsed_ms=result.elapsed_ms,
            gave_up=not result.ok and retry_at is None,
        )
        try:
            async with self._sessions() as session:
                await record_attempt(
                    session,
                    delivery.id,
                    ok=result.ok,
                    error=result.error,
                    elapsed_ms=result.elapsed_ms,
                    now=now,
                    retry_at=retry_at,
                )
        except (OSError, DBAPIError, SQLAlchemyError) as exc:
            # The outcome is lost but the lease is not: the delivery falls due again.
            log.warning("could not record a delivery attempt", error=type(exc).__name__)
