"""Incidents: list, read with the timeline, acknowledge, resolve; availability per website."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from betteruptime.api.deps import CurrentUser, OwnedWebsite, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.schemas import (
    Availability,
    AvailabilityWindow,
    DeliveryAttemptPublic,
    DeliveryPublic,
    IncidentCause,
    IncidentDetail,
    IncidentEventPublic,
    IncidentPage,
    IncidentPublic,
    IncidentState,
    IsoTime,
)
from betteruptime.db import incidents as db
from betteruptime.db.incidents import IncidentRow
from betteruptime.db.outbox import event_deliveries

router = APIRouter(tags=["incidents"])

MAX_PAGE_SIZE = 100
WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "365d": timedelta(days=365),
}
IncidentId = Annotated[uuid.UUID, Path(description="The incident's id (a UUID)")]


def incident_public(row: IncidentRow, now: datetime) -> IncidentPublic:
    """Return the API shape of an incident, its duration counted to now while unresolved."""
    return IncidentPublic(
        id=row.id,
        website_id=row.website_id,
        state=row.state,
        started_at=row.started_at,
        detected_at=row.detected_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        cause=IncidentCause.model_validate(row.cause),
        duration_seconds=round(row.duration_seconds(now), 3),
    )


async def _owned_incident(
    session: SessionDep, user: CurrentUser, incident_id: uuid.UUID
) -> IncidentRow:
    row = await db.get_incident(session, user.id, incident_id)
    if row is None:
        # Another user's incident is indistinguishable from a missing one.
        raise HTTPException(status_code=404, detail="incident not found")
    return row


async def _detail(session: SessionDep, row: IncidentRow) -> IncidentDetail:
    events = await db.incident_events(session, row.id)
    deliveries = await event_deliveries(session, [e.id for e in events])
    public = incident_public(row, datetime.now(UTC))
    return IncidentDetail(
        **public.model_dump(),
        events=[
            IncidentEventPublic(
                id=e.id,
                kind=e.kind,
                at=e.at,
                actor_id=e.actor_id,
                detail=e.detail,
                deliveries=[
                    DeliveryPublic(
                        channel_id=d.channel_id,
                        channel_name=d.channel_name,
                        channel_scheme=d.channel_scheme,
                        state=d.state,
                        attempts=d.attempts,
                        next_attempt_at=d.next_attempt_at,
                        last_error=d.last_error,
                        delivered_at=d.delivered_at,
                        log=[DeliveryAttemptPublic(**vars(a)) for a in d.log],
                    )
                    for d in deliveries[e.id]
                ],
            )
            for e in events
        ],
    )


@router.get("/incidents", responses=responses(401, 422))
async def list_incidents(
    user: CurrentUser,
    session: SessionDep,
    state: Annotated[
        IncidentState | None, Query(description="Only incidents in this state")
    ] = None,
    website_id: Annotated[uuid.UUID | None, Query(description="Only this website's")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    before: Annotated[
        IsoTime | None,
        Query(description="Only incidents started before this time (ISO 8601; UTC if no offset)"),
    ] = None,
) -> IncidentPage:
    """Return the caller's incidents, newest first."""
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    rows = await db.list_incidents(
        session,
        user.id,
        states=[state] if state else (),
        website_id=website_id,
        before=before,
        limit=limit,
    )
    now = datetime.now(UTC)
    next_before = rows[-1].started_at if len(rows) == limit else None
    return IncidentPage(items=[incident_public(r, now) for r in rows], next_before=next_before)


@router.get("/incidents/{incident_id}", responses=responses(401, 404, 422))
async def get_incident(
    incident_id: IncidentId, user: CurrentUser, session: SessionDep
) -> IncidentDetail:
    """Return one of the caller's incidents with its timeline, oldest event first."""
    return await _detail(session, await _owned_incident(session, user, incident_id))


@router.post("/incidents/{incident_id}/acknowledge", responses=responses(401, 404, 409, 422))
async def acknowledge_incident(
    incident_id: IncidentId, user: CurrentUser, session: SessionDep
) -> IncidentDetail:
    """Acknowledge an open incident (stops reminders); again on an acknowledged one: no-op."""
    row = await _owned_incident(session, user, incident_id)
    if row.state == db.OPEN:
        # False when it changed since the read (resolved, or acknowledged elsewhere): the
        # fresh read below tells which.
        await db.acknowledge(session, row.id, user.id, datetime.now(UTC))
        row = await _owned_incident(session, user, incident_id)
    if row.state == db.RESOLVED:
        raise HTTPException(status_code=409, detail="incident is resolved")
    return await _detail(session, row)


@router.post("/incidents/{incident_id}/resolve", responses=responses(401, 404, 422))
async def resolve_incident(
    incident_id: IncidentId, user: CurrentUser, session: SessionDep
) -> IncidentDetail:
    """Resolve an incident by hand (no new one opens until the website recovers); idempotent."""
    row = await _owned_incident(session, user, incident_id)
    if row.state != db.RESOLVED:
        # False when it resolved meanwhile; either way it is resolved now.
        await db.resolve_by_hand(session, row, user.id, datetime.now(UTC))
        row = await _owned_incident(session, user, incident_id)
    return await _detail(session, row)


@router.get("/website/{website_id}/availability", responses=responses(401, 404, 422))
async def website_availability(
    website: OwnedWebsite,
    session: SessionDep,
    window: Annotated[AvailabilityWindow, Query(description="How far back to look")] = "30d",
) -> Availability:
    """Return 1 - (confirmed incident time in the window) / window."""
    now = datetime.now(UTC)
    span = WINDOWS[window]
    value = (await db.availability(session, [website.id], span, now))[website.id]
    return Availability(
        website_id=website.id, window=window, start=now - span, end=now, availability=value
    )
