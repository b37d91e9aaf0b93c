"""Badge keys: replace a website's key when a badge link leaked."""

from __future__ import annotations

from fastapi import APIRouter

from betteruptime.api.deps import OwnedWebsite, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.schemas import WebsitePublic
from betteruptime.db.badges import rotate_badge_key

router = APIRouter(tags=["websites"])


@router.post("/website/{website_id}/badge-key", responses=responses(401, 404, 422))
async def rotate_website_badge_key(website: OwnedWebsite, session: SessionDep) -> WebsitePublic:
    """Give the website a new badge key; links with the old key stop working. Returns it."""
    website = await rotate_badge_key(session, website)
    return WebsitePublic.model_validate(website)
