"""Badges at /badge/{badge_key}/...: an SVG image or shields.io endpoint JSON."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from betteruptime.db import stats
from betteruptime.db import status as status_queries
from betteruptime.db.badges import website_by_badge_key
from betteruptime.db.models import BADGE_KEY_LENGTH, Website
from betteruptime.web.badges import (
    RESPONSE_WINDOWS,
    UPTIME_WINDOWS,
    Badge,
    badge_svg,
    response_time_badge,
    status_badge,
    uptime_badge,
)
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


@router.get("/badge/{badge_key}/uptime/{window}.{fmt}")
async def uptime(page: PublicPage, badge_key: str, window: str, fmt: str) -> Response:
    """The website's check success ratio over 24h, 7d, 30d or 90d."""
    if window not in UPTIME_WINDOWS:
        raise _not_found()
    website = await _website(page, badge_key, fmt)
    ratios = await stats.success_ratios(page.db, [website.id], UPTIME_WINDOWS[window], page.now)
    return _answer(uptime_badge(window, ratios.get(website.id)), fmt)


@router.get("/badge/{badge_key}/response-time/{window}.{fmt}")
async def response_time(page: PublicPage, badge_key: str, window: str, fmt: str) -> Response:
    """The website's average response time over 24h, 7d or 30d."""
    if window not in RESPONSE_WINDOWS:
        raise _not_found()
    website = await _website(page, badge_key, fmt)
    figures = await stats.window_stats(page.db, website.id, RESPONSE_WINDOWS[window], page.now)
    return _answer(response_time_badge(window, figures.response_time.avg_ms), fmt)
