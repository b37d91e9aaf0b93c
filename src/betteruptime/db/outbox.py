"""The notification outbox: fan incident events out to deliveries, claim them, log attempts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import (
    Channel,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    NotificationDelivery,
    UTCDateTime,
    Website,
    WebsiteChannel,
)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to this notifier, with everything its message needs."""

    id: int
    attempts: int  # including the one about to be made
    url_encrypted: str
    channel_id: uuid.UUID
    event_kind: str
    event_at: datetime
    event_detail: dict[str, Any]
    # None for a website-level event (a certificate about to expire).
    incident_id: uuid.UUID | None
    incident_started_at: datetime | None
    incident_resolved_at: datetime | None
    incident_cause: dict[str, Any] | None
    website_name: str | None
    website_url: str


def _event_website() -> Any:
    # An incident's event reaches its incident's website; a website-level event names it.
    return func.coalesce(IncidentEvent.website_id, Incident.website_id)


def _skip_locked(session: AsyncSession) -> bool:
    # SQLite has one writer at a time and no row locks; PostgreSQL needs SKIP LOCKED so
    # that several notifiers never wait on (or take) each other's rows.
    return session.get_bind().dialect.name == "postgresql"


async def fan_out(session: AsyncSession, limit: int, now: datetime) -> int:
    """Turn up to limit unfanned events into one pending delivery per channel; commit.

    Returns the number of events fanned out. The insert skips (event, channel) pairs that
    exist, so a notifier that died between insert and commit, or a second one, doubles
    nothing.
    """
    claim = (
        select(IncidentEvent.id)
        .where(IncidentEvent.fanned_out_at.is_(None))
        .order_by(IncidentEvent.id)
        .limit(limit)
    )
    if _skip_locked(session):
        claim = claim.with_for_update(skip_locked=True)
    ids = list(await session.scalars(claim))
    if not ids:
        await session.rollback()
        return 0
    rows = (
        select(
            IncidentEvent.id,
            WebsiteChannel.channel_id,
            literal("pending"),
            literal(0),
            literal(now, UTCDateTime),
            literal(now, UTCDateTime),
        )
        .outerjoin(Incident, Incident.id == IncidentEvent.incident_id)
        .join(WebsiteChannel, WebsiteChannel.website_id == _event_website())
        .where(IncidentEvent.id.in_(ids))
    )
    columns = ["event_id", "channel_id", "state", "attempts", "next_attempt_at", "created_at"]
    dialect = postgresql if _skip_locked(session) else sqlite
    statement = (
        dialect.insert(NotificationDelivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["event_id", "channel_id"])
    )
    await session.execute(statement)
    await session.execute(
        update(IncidentEvent).where(IncidentEvent.id.in_(ids)).values(fanned_out_at=now)
    )
    await session.commit()
    return len(ids)


async def claim_due(
    session: AsyncSession, limit: int, now: datetime, lease: timedelta
) -> list[ClaimedDelivery]:
    """Lease up to limit due pending deliveries (hidden from others until now + lease); commit.

    The lease is what makes a killed notifier lose nothing: its deliveries fall due again
    when the lease runs out, and a live notifier sends them.
    """
    claim = (
        select(NotificationDelivery.id)
        .where(NotificationDelivery.state == "pending", NotificationDelivery.next_attempt_at <= now)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    if _skip_locked(session):
        claim = claim.with_for_update(skip_locked=True)
    ids = list(await session.scalars(claim))
    if not ids:
        await session.rollback()
        return []
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id.in_(ids))
        .values(next_attempt_at=now + lease, attempts=NotificationDelivery.attempts + 1)
    )
    result = await session.execute(
        select(
            NotificationDelivery.id,
            NotificationDelivery.attempts,
            Channel.url_encrypted,
            Channel.id,
            IncidentEvent.kind,
            IncidentEvent.at,
            IncidentEvent.detail,
            Incident.id,
            Incident.started_at,
            Incident.resolved_at,
            Incident.cause,
            Website.name,
            Website.url,
        )
        .join(Channel, Channel.id == NotificationDelivery.channel_id)
        .join(IncidentEvent, IncidentEvent.id == NotificationDelivery.event_id)
        .outerjoin(Incident, Incident.id == IncidentEvent.incident_id)
        .join(Website, Website.id == _event_website())
        .where(NotificationDelivery.id.in_(ids))
        .order_by(NotificationDelivery.id)
    )
    claimed = [ClaimedDelivery(*row) for row in result]
    await session.commit()
    return claimed


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    ok: bool,
    error: str | None,
    elapsed_ms: int,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """Log one attempt and move the delivery on: delivered, retried at retry_at, or failed.

    retry_at None on a failure means no attempts are left. Commits.
    """
    await session.execute(
        insert(DeliveryAttempt).values(
            delivery_id=delivery_id, at=now, ok=ok, error=error, elapsed_ms=elapsed_ms
        )
    )
    if ok:
        values: dict[str, Any] = {"state": "delivered", "delivered_at": now, "last_error": None}
    elif retry_at is None:
        values = {"state": "failed", "last_error": error}
    else:
        values = {"next_attempt_at": retry_at, "last_error": error}
    # Only a pending delivery moves: if our lease ran out and another notifier already
    # delivered it, our late attempt is logged but changes nothing.
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id, NotificationDelivery.state == "pending")
        .values(**values)
    )
    await session.commit()


@dataclass(frozen=True)
class AttemptRow:
    """One logged attempt of a delivery."""

    at: datetime
    ok: bool
    error: str | None
    elapsed_ms: int


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery of an event to a channel, with its attempts oldest first."""

    id: int
    event_id: int
    channel_id: uuid.UUID
    channel_name: str
    channel_scheme: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    log: list[AttemptRow]


async def event_deliveries(
    session: AsyncSession, event_ids: list[int]
) -> dict[int, list[DeliveryRow]]:
    """Return the deliveries of each event (every id present), in two queries."""
    found: dict[int, list[DeliveryRow]] = {eid: [] for eid in event_ids}
    if not event_ids:
        return found
    rows = (
        await session.execute(
            select(NotificationDelivery, Channel.name, Channel.scheme)
            .join(Channel, Channel.id == NotificationDelivery.channel_id)
            .where(NotificationDelivery.event_id.in_(event_ids))
            .order_by(NotificationDelivery.id)
        )
    ).all()
    attempts: dict[int, list[AttemptRow]] = {d.id: [] for d, _, _ in rows}
    if attempts:
        logged = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(attempts)))
            .order_by(DeliveryAttempt.id)
        )
        for a in logged:
            attempts[a.delivery_id].append(AttemptRow(a.at, a.ok, a.error, a.elapsed_ms))
    for delivery, name, scheme in rows:
        found[delivery.event_id].append(
            DeliveryRow(
                id=delivery.id,
                event_id=delivery.event_id,
                channel_id=delivery.channel_id,
                channel_name=name,
                channel_scheme=scheme,
                state=delivery.state,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
                last_error=delivery.last_error,
                delivered_at=delivery.delivered_at,
                log=attempts[delivery.id],
            )
        )
    return found


@dataclass(frozen=True)
class ChannelDeliveryRow:
    """A delivery to one channel, with the event and website it was about."""

    id: int
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    event_kind: str
    event_at: datetime
    incident_id: uuid.UUID | None
    website_id: uuid.UUID
    website_name: str | None
    website_url: str


async def channel_deliveries(
    session: AsyncSession, channel_id: uuid.UUID, limit: int
) -> list[ChannelDeliveryRow]:
    """Return the channel's latest deliveries, newest first, in one query."""
    # ix_notification_delivery_channel_id finds the channel's rows; only they are sorted.
    rows = await session.execute(
        select(
            NotificationDelivery.id,
            NotificationDelivery.state,
            NotificationDelivery.attempts,
            NotificationDelivery.last_error,
            NotificationDelivery.created_at,
            NotificationDelivery.delivered_at,
            IncidentEvent.kind,
            IncidentEvent.at,
            IncidentEvent.incident_id,
            Website.id,
            Website.name,
            Website.url,
        )
        .join(IncidentEvent, IncidentEvent.id == NotificationDelivery.event_id)
        .outerjoin(Incident, Incident.id == IncidentEvent.incident_id)
        .join(Website, Website.id == _event_website())
        .where(NotificationDelivery.channel_id == channel_id)
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    )
    # Twelve columns in the dataclass's order (mypy reads the Row as a single value).
    return [ChannelDeliveryRow(*cast(tuple[Any, ...], row)) for row in rows]
