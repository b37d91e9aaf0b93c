"""A website's current status, from the latest state per region (never from tick history)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from betteruptime.api.deps import OwnedWebsite, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.routes.incidents import incident_public
from betteruptime.api.schemas import RegionStatus, WebsiteStatusPublic
from betteruptime.db.status import website_status

router = APIRouter(tags=["status"])


@router.get("/status/{website_id}", responses=responses(401, 404, 422))
async def get_status(website: OwnedWebsite, session: SessionDep) -> WebsiteStatusPublic:
    """Return the overall status, each region's latest state (stale: UNKNOWN), the open incident."""
    now = datetime.now(UTC)
    report = await website_status(session, website, now)
    return WebsiteStatusPublic(
        id=website.id,
        url=website.url,
        status=report.status,
        last_checked_at=report.last_checked_at,
        regions=[RegionStatus.model_validate(r) for r in report.regions],
        incident=incident_public(report.incident, now) if report.incident else None,
    )
