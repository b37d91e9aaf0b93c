"""Current status of websites, from the latest state per region (never from tick history)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.incidents import IncidentRow, open_incidents
from betteruptime.db.models import Website, WebsiteStatus
from betteruptime.rules.status import Status, overall_status, region_status


@dataclass(frozen=True, slots=True)
class RegionState:
    """A region's latest check of a website; `status` is UNKNOWN once that check is stale."""

    region_id: str
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A website's overall status, each region's state (ordered by id), its open incident."""

    status: Status
    last_checked_at: datetime | None
    regions: list[RegionState]
    incident: IncidentRow | None = None


async def website_status(session: AsyncSession, website: Website, now: datetime) -> StatusReport:
    """Return the website's status as of now."""
    return (await websites_status(session, [website], now))[website.id]


async def websites_status(
    session: AsyncSession, websites: Sequence[Website], now: datetime
) -> dict[uuid.UUID, StatusReport]:
    """Return the status of each website as of now, in two queries whatever their number."""
    by_id = {w.id: w for w in websites}
    rows: dict[uuid.UUID, list[WebsiteStatus]] = {w.id: [] for w in websites}
    if by_id:
        result = await session.scalars(
            select(WebsiteStatus)
            .where(WebsiteStatus.website_id.in_(list(by_id)))
            .order_by(WebsiteStatus.website_id, WebsiteStatus.region_id)
        )
        for row in result:
            rows[row.website_id].append(row)
    incidents = await open_incidents(session, list(by_id))
    return {
        wid: _report(by_id[wid].interval_seconds, found, incidents.get(wid), now)
        for wid, found in rows.items()
    }


def _report(
    interval_seconds: int, rows: list[WebsiteStatus], incident: IncidentRow | None, now: datetime
) -> StatusReport:
    # Freshness and the overall rule come from rules.status only, so every reader agrees.
    regions = [
        RegionState(
            region_id=row.region_id,
            status=region_status(row.status, row.checked_at, interval_seconds, now),
            status_code=row.status_code,
            response_time_ms=row.response_time_ms,
            error=row.error,
            checked_at=row.checked_at,
        )
        for row in rows
    ]
    return StatusReport(
        status=overall_status((r.status for r in regions), incident_open=incident is not None),
        last_checked_at=max((r.checked_at for r in regions), default=None),
        regions=regions,
        incident=incident,
    )
