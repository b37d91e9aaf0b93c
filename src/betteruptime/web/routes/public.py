"""Public status pages at /s/{slug}: no login, only what the owner chose, cacheable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from betteruptime.db import incidents, stats, status_pages
from betteruptime.rules.status import Status, overall_status, region_status
from betteruptime.web.figures import HISTORY_DAYS, history_of
from betteruptime.web.headers import PAGE_HEADERS
from betteruptime.web.page import PageError, PublicPage

router = APIRouter()

MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class PublicWebsite:
    """What a status page shows of one website: never its id, key or owner."""

    name: str
    url: str | None
    status: Status
    bars: Markup
    summary: str


def banner(statuses: list[Status]) -> tuple[str, str]:
    """Return the page's overall line and its CSS class."""
    down = sum(1 for s in statuses if s is Status.DOWN)
    if statuses and down == len(statuses):
        return "Major outage", "down"
    if down:
        return "Partial outage", "partial"
    if statuses and all(s is Status.UP for s in statuses):
        return "All systems operational", "up"
    if not statuses:
        return "No services listed", "unknown"
    return "Some statuses unknown", "unknown"


def _label(name: str | None, url: str, show_urls: bool) -> str:
    # Without a name and with URLs hidden, the page must not leak the URL as the label.
    return name or (url if show_urls else "Unnamed service")


def _not_found() -> PageError:
    return PageError(404, "Status page not found", "There is no status page at this address.")


@router.get("/s/{slug}")
async def status_page(page: PublicPage, request: Request, slug: str) -> Response:
    """The public status page; 304 when the visitor's copy is current."""
    if len(slug) > 64:
        raise _not_found()
    found = await status_pages.get_by_slug(page.db, slug)
    if found is None:
        raise _not_found()
    chosen = await status_pages.shown_websites(page.db, found.id)
    days = await stats.daily_uptime(page.db, [w.website_id for w in chosen], HISTORY_DAYS, page.now)
    open_now = await incidents.open_incidents(page.db, [w.website_id for w in chosen])
    shown = []
    for w in chosen:
        name = _label(w.name, w.url, found.show_urls)
        history = history_of(days.get(w.website_id, []), name)
        shown.append(
            PublicWebsite(
                name=name,
                url=w.url if found.show_urls else None,
                status=overall_status(
                    (
                        region_status(status, checked_at, w.interval_seconds, page.now)
                        for status, checked_at in w.regions
                    ),
                    incident_open=w.website_id in open_now,
                ),
                bars=history.bars,
                summary=history.summary,
            )
        )
    headline, tone = banner([w.status for w in shown])
    html = page.state.templates.get_template("public_status.html").render(
        title=found.title, websites=shown, headline=headline, tone=tone
    )
    etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'
    headers = {
        **PAGE_HEADERS,
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
    }
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(html, headers=headers)


def _etags(header: str) -> set[str]:
    """Return the entity tags an If-None-Match header lists (weak ones compare equal)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
