"""Badges at /badge/{badge_key}/...: an SVG image or shields.io endpoint JSON."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from betteruptime.db import status as status_queries
from betteruptime.db.badges import website_by_badge_key
from betteruptime.db.models import BADGE_KEY_LENGTH, Website
from betteruptime.web.badges import Badge, badge_svg, status_badge
from betteruptime.web.headers import BADGE_HEADERS
from betteruptime.web.page import Page, PageError, PublicPage

router = APIRouter()

FORMATS = ("svg", "json")
# Short enough that a status change shows within a minute, long enough to spare us the
# image proxies that fetch a popular README's badges on every view.
CACHE_CONTROL = "public, max-age=60"


def _not_found() -> PageError:
    return PageError(404, "Badge not found", "There is no badge at this address.")


async def _website(page: Page, badge_key: str, fmt: str) -> Website:
    if len(badge_key) != BADGE_KEY_LENGTH or fmt not in FORMATS:
        raise _not_found()
    website = await website_by_badge_key(page.db, badge_key)
    if website is None:
        raise _not_found()
    return website


def _answer(badge: Badge, fmt: str) -> Response:
    headers = {**BADGE_HEADERS, "Cache-Control": CACHE_CONTROL}
    if fmt == "json":
        return JSONResponse(badge.endpoint_json(), headers=headers)
    return Response(badge_svg(badge), media_type="image/svg+xml", headers=headers)


@router.get("/badge/{badge_key}/status.{fmt}")
async def status(page: PublicPage, badge_key: str, fmt: str) -> Response:
    """The website's overall status."""
    website = await _website(page, badge_key, fmt)
    report = await status_queries.website_status(page.db, website, page.now)
    return _answer(status_badge(report.status), fmt)
