"""A website's current status, from the latest state per region (never from tick history)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import select

from betteruptime.api.deps import OwnedWebsite, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.routes.incidents import incident_public
from betteruptime.api.schemas import RegionStatus, WebsiteStatusPublic
from betteruptime.db.incidents import open_incidents
from betteruptime.db.models import WebsiteStatus
from betteruptime.rules.status import overall_status, region_status

router = APIRouter(tags=["status"])


@router.get("/status/{website_id}", responses=responses(401, 404, 422))
async def get_status(website: OwnedWebsite, session: SessionDep) -> WebsiteStatusPublic:
    """Return the overall status, each region's latest state (stale: UNKNOWN), the open incident."""
    rows = list(
        await session.scalars(
            select(WebsiteStatus)
            .where(WebsiteStatus.website_id == website.id)
            .order_by(WebsiteStatus.region_id)
        )
    )
    now = datetime.now(UTC)
    regions = [
        RegionStatus(
            region_id=row.region_id,
            status=region_status(row.status, row.checked_at, website.interval_seconds, now),
            status_code=row.status_code,
            response_time_ms=row.response_time_ms,
            error=row.error,
            checked_at=row.checked_at,
        )
        for row in rows
    ]
    incident = (await open_incidents(session, [website.id])).get(website.id)
    return WebsiteStatusPublic(
        id=website.id,
        url=website.url,
        status=overall_status((r.status for r in regions), incident_open=incident is not None),
        last_checked_at=max((r.checked_at for r in regions), default=None),
        regions=regions,
        incident=incident_public(incident, now) if incident is not None else None,
    )
