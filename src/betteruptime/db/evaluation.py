"""What the alerter reads and writes: claimed evaluations, facts per website, incident changes."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from betteruptime.db.incidents import OPEN, RESOLVED, add_event, unresolved_or_held
from betteruptime.db.models import Incident, Region, UTCDateTime, Website, WebsiteStatus
from betteruptime.rules.incidents import RegionLoad, RegionState, Thresholds
from betteruptime.rules.status import Status

# Claimed rows are deleted in the claiming transaction, which commits before the
# evaluation runs: a result written meanwhile queues the website again, so nothing is
# missed by a claim racing a write. SKIP LOCKED lets several alerters claim disjoint
# rows. The price is that an alerter killed between claim and evaluation drops its
# claims; every DOWN check queues its website again and the time loop re-evaluates every
# website with an unresolved incident, so the loss lasts one check at most.
_PG_CLAIM = text(
    """
    DELETE FROM evaluation
    WHERE website_id = ANY(ARRAY(
        SELECT website_id FROM evaluation
        ORDER BY queued_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING website_id
    """
).bindparams(bindparam("limit", type_=Integer()))

# SQLite has one writer at a time: the DELETE … RETURNING is the whole claim.
_SQLITE_CLAIM = text(
    """
    DELETE FROM evaluation
    WHERE website_id IN (SELECT website_id FROM evaluation ORDER BY queued_at LIMIT :limit)
    RETURNING website_id
    """
).bindparams(bindparam("limit", type_=Integer()))


@dataclass(frozen=True, slots=True)
class KnownIncident:
    """The website's unresolved incident, or its latest one held until recovery."""

    id: uuid.UUID
    state: str
    started_at: datetime
    awaiting_recovery: bool


@dataclass(frozen=True, slots=True)
class WebsiteFacts:
    """Everything the rules need to decide about one website."""

    website_id: uuid.UUID
    interval_seconds: int
    thresholds: Thresholds
    regions: list[RegionState]
    incident: KnownIncident | None  # unresolved
    held: bool  # resolved by hand and not yet recovered


async def claim_evaluations(engine: AsyncEngine, limit: int) -> list[uuid.UUID]:
    """Remove and return up to `limit` queued websites, oldest first."""
    claim = _PG_CLAIM if engine.dialect.name == "postgresql" else _SQLITE_CLAIM
    async with engine.begin() as conn:
        rows = await conn.execute(claim, {"limit": limit})
        return [uuid.UUID(str(r[0])) for r in rows]


async def load_facts(
    session: AsyncSession, website_ids: Collection[uuid.UUID], defaults: Thresholds
) -> list[WebsiteFacts]:
    """Return the facts of the websites that still exist, in three queries."""
    ids = list(website_ids)
    if not ids:
        return []
    websites = list(await session.scalars(select(Website).where(Website.id.in_(ids))))
    regions: dict[uuid.UUID, list[RegionState]] = {w.id: [] for w in websites}
    for st in await session.scalars(select(WebsiteStatus).where(WebsiteStatus.website_id.in_(ids))):
        regions.setdefault(st.website_id, []).append(
            RegionState(
                region_id=st.region_id,
                status=Status(st.status),
                streak=st.streak,
                streak_started_at=st.streak_started_at,
                checked_at=st.checked_at,
                status_code=st.status_code,
                error=st.error,
            )
        )
    open_: dict[uuid.UUID, KnownIncident] = {}
    held: set[uuid.UUID] = set()
    for inc in await session.scalars(
        select(Incident).where(Incident.website_id.in_(ids), unresolved_or_held())
    ):
        if inc.state != RESOLVED:
            open_[inc.website_id] = KnownIncident(
                inc.id, inc.state, inc.started_at, inc.awaiting_recovery
            )
        elif inc.awaiting_recovery:
            held.add(inc.website_id)
    return [
        WebsiteFacts(
            website_id=w.id,
            interval_seconds=w.interval_seconds,
            thresholds=Thresholds(
                confirmation_checks=w.confirmation_checks or defaults.confirmation_checks,
                recovery_checks=w.recovery_checks or defaults.recovery_checks,
                regions_required=w.regions_required,
            ),
            regions=sorted(regions[w.id], key=lambda r: r.region_id),
            incident=open_.get(w.id),
            held=w.id in held,
        )
        for w in websites
    ]


async def ignored_regions(session: AsyncSession) -> set[str]:
    """Return the regions whose votes the outage guard ignores now."""
    rows = await session.scalars(select(Region.id).where(Region.votes_ignored_since.is_not(None)))
    return set(rows)


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def open_incident(
    session: AsyncSession,
    website_id: uuid.UUID,
    started_at: datetime,
    cause: dict[str, Any],
    now: datetime,
) -> uuid.UUID | None:
    """Open an incident and its 'opened' event; None when one is already unresolved."""
    incident_id = uuid.uuid4()
    # The partial unique index is the arbiter: when two alerters decide at once, the
    # second insert does nothing, returns no row, and so writes no second event.
    stmt = (
        _insert(session)(Incident)
        .values(
            id=incident_id,
            website_id=website_id,
            state=OPEN,
            started_at=started_at,
            detected_at=now,
            cause=cause,
            awaiting_recovery=False,
        )
        .on_conflict_do_nothing(
            index_elements=["website_id"], index_where=text("state <> 'resolved'")
        )
        .returning(Incident.id)
    )
    if (await session.execute(stmt)).first() is None:
        return None
    add_event(session, incident_id, "opened", now, None, {**cause, "started_at": _iso(started_at)})
    return incident_id


async def resolve_incident(session: AsyncSession, incident: KnownIncident, now: datetime) -> bool:
    """Resolve an incident that recovered by itself and record it; False if already resolved."""
    # Conditional on the state: a hand resolve or another alerter may have got there
    # first, and then nothing is updated and no second 'resolved' event is written.
    result = await session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.state != RESOLVED)
        .values(state=RESOLVED, resolved_at=now)
        .returning(Incident.id)
    )
    if result.first() is None:
        return False
    duration = max(0.0, (now - incident.started_at).total_seconds())
    add_event(
        session,
        incident.id,
        RESOLVED,
        now,
        None,
        {"by": "recovery", "duration_seconds": round(duration, 3)},
    )
    return True


async def clear_hold(session: AsyncSession, website_id: uuid.UUID) -> None:
    """Let new incidents open again for a website that has recovered since a hand resolve."""
    await session.execute(
        update(Incident)
        .where(Incident.website_id == website_id, Incident.awaiting_recovery.is_(True))
        .values(awaiting_recovery=False)
    )


async def websites_with_incidents(session: AsyncSession) -> list[uuid.UUID]:
    """Return the websites with an unresolved incident or a hold (re-evaluated on time)."""
    rows = await session.scalars(select(Incident.website_id).where(unresolved_or_held()).distinct())
    return list(rows)


@dataclass(frozen=True, slots=True)
class DueReminder:
    """An open, unacknowledged incident whose reminder is due."""

    incident_id: uuid.UUID
    last: datetime
    started_at: datetime


async def due_reminders(session: AsyncSession, now: datetime) -> list[DueReminder]:
    """Return the open (unacknowledged) incidents whose website's reminder interval passed."""
    last = func.coalesce(Incident.reminded_at, Incident.detected_at, type_=UTCDateTime())
    rows = await session.execute(
        select(Incident.id, last, Incident.started_at, Website.reminder_minutes)
        .join(Website, Website.id == Incident.website_id)
        .where(Incident.state == OPEN, Website.reminder_minutes.is_not(None))
    )
    return [
        DueReminder(incident_id, seen, started_at)
        for incident_id, seen, started_at, minutes in rows
        if minutes is not None and now - seen >= timedelta(minutes=minutes)
    ]


async def record_reminder(session: AsyncSession, due: DueReminder, now: datetime) -> bool:
    """Write a 'reminder' event unless another alerter (or an acknowledgement) got there first."""
    # The condition repeats what was read: if the incident was acknowledged, resolved or
    # reminded by another alerter since, nothing is updated and no event is written.
    result = await session.execute(
        update(Incident)
        .where(
            Incident.id == due.incident_id,
            Incident.state == OPEN,
            or_(
                Incident.reminded_at == due.last,
                Incident.reminded_at.is_(None) & (Incident.detected_at == due.last),
            ),
        )
        .values(reminded_at=now)
        .returning(Incident.id)
    )
    if result.first() is None:
        return False
    open_for = (now - due.started_at).total_seconds()
    add_event(session, due.incident_id, "reminder", now, None, {"open_seconds": round(open_for)})
    return True


async def region_loads(session: AsyncSession, since: datetime) -> list[RegionLoad]:
    """Return, per region, the websites checked since `since` and those whose check failed."""
    # One grouped pass over website_status (one row per website and region), which
    # status reads keep small; ticks, the big table, are not read.
    failing = func.sum(func.cast(WebsiteStatus.status == Status.DOWN.value, Integer))
    rows = await session.execute(
        select(Region.id, func.count(WebsiteStatus.website_id), func.coalesce(failing, 0))
        .select_from(Region)
        .outerjoin(
            WebsiteStatus,
            (WebsiteStatus.region_id == Region.id) & (WebsiteStatus.checked_at >= since),
        )
        .group_by(Region.id)
    )
    return [RegionLoad(region_id, int(n), int(f)) for region_id, n, f in rows]


async def set_votes_ignored(
    session: AsyncSession, region_id: str, ignored: bool, now: datetime
) -> bool:
    """Mark the region ignored (or counted again); False when it already was (another alerter)."""
    column = Region.votes_ignored_since
    result = await session.execute(
        update(Region)
        .where(Region.id == region_id, column.is_(None) if ignored else column.is_not(None))
        .values(votes_ignored_since=now if ignored else None)
        .returning(Region.id)
    )
    return result.first() is not None


async def websites_failing(session: AsyncSession) -> list[uuid.UUID]:
    """Return the websites whose latest check failed in some region (after a guard change)."""
    # A full pass over website_status, run only when a region's guard state changes.
    rows = await session.scalars(
        select(WebsiteStatus.website_id).where(WebsiteStatus.status == Status.DOWN.value).distinct()
    )
    return list(rows)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
