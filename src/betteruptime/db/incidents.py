"""Incidents and their timelines: reads for the API and pages, and the changes people make."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import Evaluation, Incident, IncidentEvent, Website
from betteruptime.rules.incidents import incident_seconds_in_window

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as the API and pages show it."""

    id: uuid.UUID
    website_id: uuid.UUID
    state: str
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    cause: dict[str, Any]

    def duration_seconds(self, now: datetime) -> float:
        """Return how long the incident lasted, or has lasted so far while unresolved."""
        end = self.resolved_at if self.resolved_at is not None else now
        return max(0.0, (end - self.started_at).total_seconds())

    @classmethod
    def of(cls, incident: Incident) -> IncidentRow:
        """Return the row of an ORM incident."""
        return cls(
            id=incident.id,
            website_id=incident.website_id,
            state=incident.state,
            started_at=incident.started_at,
            detected_at=incident.detected_at,
            acknowledged_at=incident.acknowledged_at,
            acknowledged_by=incident.acknowledged_by,
            resolved_at=incident.resolved_at,
            resolved_by=incident.resolved_by,
            cause=dict(incident.cause or {}),
        )


@dataclass(frozen=True, slots=True)
class EventRow:
    """One step of an incident's timeline."""

    id: int
    incident_id: uuid.UUID
    kind: str
    at: datetime
    actor_id: uuid.UUID | None
    detail: dict[str, Any]
    fanned_out_at: datetime | None


def _event_row(event: IncidentEvent) -> EventRow:
    # Timelines are read by incident: website-level events never get here.
    assert event.incident_id is not None
    return EventRow(
        id=event.id,
        incident_id=event.incident_id,
        kind=event.kind,
        at=event.at,
        actor_id=event.actor_id,
        detail=dict(event.detail or {}),
        fanned_out_at=event.fanned_out_at,
    )


async def open_incidents(
    session: AsyncSession, website_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, IncidentRow]:
    """Return the unresolved incident of each website that has one."""
    if not website_ids:
        return {}
    rows = await session.scalars(
        select(Incident).where(
            Incident.website_id.in_(list(website_ids)), Incident.state != RESOLVED
        )
    )
    return {i.website_id: IncidentRow.of(i) for i in rows}


async def recent_incidents(
    session: AsyncSession, website_ids: Collection[uuid.UUID], since: datetime
) -> list[IncidentRow]:
    """Return the incidents of these websites unresolved or resolved since `since`, newest first."""
    if not website_ids:
        return []
    rows = await session.scalars(
        select(Incident)
        .where(
            Incident.website_id.in_(list(website_ids)),
            or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since),
        )
        .order_by(Incident.started_at.desc(), Incident.id.desc())
    )
    return [IncidentRow.of(i) for i in rows]


async def availability(
    session: AsyncSession, website_ids: Collection[uuid.UUID], window: timedelta, now: datetime
) -> dict[uuid.UUID, float]:
    """Return 1 - (confirmed incident time in the window) / window for each website."""
    start = now - window
    spans: dict[uuid.UUID, list[tuple[datetime, datetime | None]]] = {w: [] for w in website_ids}
    if website_ids:
        rows = await session.execute(
            select(Incident.website_id, Incident.started_at, Incident.resolved_at).where(
                Incident.website_id.in_(list(website_ids)),
                Incident.started_at < now,
                or_(Incident.resolved_at.is_(None), Incident.resolved_at > start),
            )
        )
        for website_id, started_at, resolved_at in rows:
            spans[website_id].append((started_at, resolved_at))
    total = window.total_seconds()
    return {w: 1.0 - incident_seconds_in_window(s, start, now) / total for w, s in spans.items()}


def _owned(owner_id: uuid.UUID) -> Select[Any]:
    # The owner is part of every lookup: another user's incident is simply not found.
    # Incident.owner_id, copied from the website's owner on insert, lets the index (owner,
    # start) find and order the owner's incidents.
    return select(Incident).where(Incident.owner_id == owner_id)


async def list_incidents(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    states: Collection[str] = (),
    website_id: uuid.UUID | None = None,
    before: datetime | None = None,
    limit: int = 50,
) -> list[IncidentRow]:
    """Return the owner's incidents, newest first (by start, ties by id), before `before`."""
    query = _owned(owner_id)
    if states:
        query = query.where(Incident.state.in_(list(states)))
    if website_id is not None:
        query = query.where(Incident.website_id == website_id)
    if before is not None:
        query = query.where(Incident.started_at < before)
    rows = await session.scalars(
        query.order_by(Incident.started_at.desc(), Incident.id.desc()).limit(limit)
    )
    return [IncidentRow.of(i) for i in rows]


@dataclass(frozen=True, slots=True)
class ListedIncident:
    """An incident with the name and URL of its website, for lists."""

    incident: IncidentRow
    website_name: str | None
    website_url: str


async def incidents_page(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    unresolved_only: bool = False,
    website_id: uuid.UUID | None = None,
    limit: int = 25,
    offset: int = 0,
    unresolved: int | None = None,
) -> tuple[list[ListedIncident], bool]:
    """Return one page of the owner's incidents, and whether more follow.

    Unresolved incidents come first (there is at most one per website), then resolved
    ones; newest first within each. `unresolved` is count_unresolved's answer, if known.
    """
    # Two parts, each read in order from an index (the partial one of unresolved
    # incidents, then (owner, start)), instead of one ORDER BY resolved-last that sorted
    # every incident of the owner on every view. One row more than asked tells whether a
    # next page exists; an exact total would cost a pass over every incident of the owner.
    wanted = limit + 1
    if unresolved is None:
        unresolved = await count_unresolved(session, owner_id, website_id)
    listed: list[ListedIncident] = []
    if offset < unresolved:
        listed += await _listed_part(session, owner_id, website_id, False, wanted, offset)
    if not unresolved_only and len(listed) < wanted:
        listed += await _listed_part(
            session, owner_id, website_id, True, wanted - len(listed), max(0, offset - unresolved)
        )
    return listed[:limit], len(listed) > limit


async def _listed_part(
    session: AsyncSession,
    owner_id: uuid.UUID,
    website_id: uuid.UUID | None,
    resolved: bool,
    limit: int,
    offset: int,
) -> list[ListedIncident]:
    where = _listed(owner_id, website_id)
    where.append(Incident.state == RESOLVED if resolved else Incident.state != RESOLVED)
    rows = await session.execute(
        select(Incident, Website.name, Website.url)
        .join(Website, Website.id == Incident.website_id)
        .where(*where)
        .order_by(Incident.started_at.desc(), Incident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [ListedIncident(IncidentRow.of(i), name, url) for i, name, url in rows]


async def count_unresolved(
    session: AsyncSession, owner_id: uuid.UUID, website_id: uuid.UUID | None = None
) -> int:
    """Return how many of the owner's incidents (of one website, when given) are unresolved."""
    # Read from the partial index of unresolved incidents: small whatever the history.
    total = await session.scalar(
        select(func.count())
        .select_from(Incident)
        .join(Website, Website.id == Incident.website_id)
        .where(*_listed(owner_id, website_id), Incident.state != RESOLVED)
    )
    return int(total or 0)


def _listed(owner_id: uuid.UUID, website_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    # Incident.owner_id alone: the website's owner as well (always the same) made
    # PostgreSQL count the two as independent filters, expect 1/20 of the rows, and sort
    # them all instead of walking the index.
    where: list[ColumnElement[bool]] = [Incident.owner_id == owner_id]
    if website_id is not None:
        where.append(Incident.website_id == website_id)
    return where


async def get_incident(
    session: AsyncSession, owner_id: uuid.UUID, incident_id: uuid.UUID
) -> IncidentRow | None:
    """Return the owner's incident, or None when it is missing or someone else's."""
    # populate_existing: a change committed by this session's own update is read back.
    incident = await session.scalar(
        _owned(owner_id).where(Incident.id == incident_id).execution_options(populate_existing=True)
    )
    return IncidentRow.of(incident) if incident is not None else None


async def incident_events(session: AsyncSession, incident_id: uuid.UUID) -> list[EventRow]:
    """Return the incident's timeline, oldest first."""
    rows = await session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id)
    )
    return [_event_row(e) for e in rows]


def add_event(
    session: AsyncSession,
    incident_id: uuid.UUID,
    kind: str,
    at: datetime,
    actor_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Stage an event row; the caller commits it with the change it records (the outbox)."""
    session.add(
        IncidentEvent(
            incident_id=incident_id, kind=kind, at=at, actor_id=actor_id, detail=detail or {}
        )
    )


async def acknowledge(
    session: AsyncSession, incident_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> bool:
    """Acknowledge an open incident and record it; return False when it was not open."""
    # Conditional on the state, so two clicks (or a click racing the recovery) record
    # one acknowledgement at most; the loser changes nothing.
    result = await session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.state == OPEN)
        .values(state=ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user_id)
        .returning(Incident.id)
    )
    if result.first() is None:
        await session.rollback()
        return False
    add_event(session, incident_id, ACKNOWLEDGED, now, user_id)
    await session.commit()
    return True


async def resolve_by_hand(
    session: AsyncSession, incident: IncidentRow, user_id: uuid.UUID, now: datetime
) -> bool:
    """Resolve an unresolved incident by hand and record it; False when already resolved."""
    # awaiting_recovery: the site may still be failing, and a new incident must not open
    # the moment it is evaluated again; the evaluator clears it once the site recovers.
    result = await session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.state != RESOLVED)
        .values(state=RESOLVED, resolved_at=now, resolved_by=user_id, awaiting_recovery=True)
        .returning(Incident.id)
    )
    if result.first() is None:
        await session.rollback()
        return False
    detail = {"by": "hand", "duration_seconds": incident.duration_seconds(now)}
    add_event(session, incident.id, RESOLVED, now, user_id, detail)
    # Evaluated again soon, so a site that has already recovered is not held for long.
    await enqueue_evaluations(session, [incident.website_id], now)
    await session.commit()
    return True


async def enqueue_evaluations(
    session: AsyncSession, website_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    """Queue websites for the evaluator; one already queued stays queued once."""
    if not website_ids:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Sorted, so concurrent writers take the key locks in one order (no deadlock).
    stmt = insert(Evaluation).values(
        [{"website_id": w, "queued_at": now} for w in sorted(set(website_ids))]
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["website_id"]))


def unresolved_or_held() -> ColumnElement[bool]:
    """Return the condition of incidents the evaluator must know about."""
    return or_(Incident.state != RESOLVED, Incident.awaiting_recovery.is_(True))
