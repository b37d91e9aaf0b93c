"""Public status pages at /s/{slug}: no login, only what the owner chose, cacheable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from betteruptime.db import stats, status_pages
from betteruptime.db.models import StatusPage
from betteruptime.rules.status import Status, overall_status, region_status
from betteruptime.web.cache import Rendered
from betteruptime.web.compression import accepts_gzip
from betteruptime.web.figures import HISTORY_DAYS, counts_history
from betteruptime.web.headers import PAGE_HEADERS
from betteruptime.web.page import Page, PageError, PublicPage

router = APIRouter()

MAX_AGE_SECONDS = 60
INCIDENT_DAYS = 14
# Resolved incidents listed at most (unresolved ones are always all listed).
MAX_RESOLVED_SHOWN = 50
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class PublicWebsite:
    """What a status page shows of one website: never its id, key or owner."""

    name: str
    url: str | None
    status: Status
    bars: Markup
    uptime: str


@dataclass(frozen=True)
class PublicIncident:
    """What a status page shows of one incident: whose, when, and for how long."""

    name: str
    started_at: datetime
    resolved_at: datetime | None
    seconds: float


def service_items(websites: list[PublicWebsite]) -> Markup:
    """Return each website's <li>: its name, status in words, URL if shown, and bars."""
    # Built here rather than in the template: for 500 websites, Jinja's loop (and its
    # escaping of each website's bars) took as long as the rest of the page.
    items = []
    for w in websites:
        status = w.status.value
        url = f'<span class="url">{escape(w.url)}</span>' if w.url else ""
        items.append(
            '<li class="service"><div class="service-head">'
            f'<span class="service-name">{escape(w.name)}</span> '
            f'<span class="status status-{status.lower()}">{status}</span></div>'
            f"{url}{w.bars}"
            '<p class="bars-legend"><span aria-hidden="true">90 days ago</span>'
            f'<span>{escape(w.uptime)}</span><span aria-hidden="true">today</span></p></li>\n'
        )
    return Markup("".join(items))  # noqa: S704 - every text escaped above, bars are Markup


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


async def _render(page: Page, found: StatusPage) -> Rendered:
    """Return the status page, computed in the same few queries whatever its size."""
    now = page.now
    chosen = await status_pages.shown_websites(page.db, found.id)
    ids = [w.website_id for w in chosen]
    # Statuses come from the same rows as the list of incidents (all unresolved ones are
    # in it), so the banner and the list never disagree.
    listed = (
        await status_pages.shown_incidents(
            page.db,
            found.id,
            now - timedelta(days=INCIDENT_DAYS),
            resolved_limit=MAX_RESOLVED_SHOWN + 1,
        )
        if chosen
        else []
    )
    days = await stats.daily_uptime(page.db, ids, HISTORY_DAYS, now)
    open_now = {i.website_id for i in listed if i.resolved_at is None}
    shown = []
    for w in chosen:
        name = _label(w.name, w.url, found.show_urls)
        history = counts_history(days[w.website_id], name)
        shown.append(
            PublicWebsite(
                name=name,
                url=w.url if found.show_urls else None,
                status=overall_status(
                    (
                        region_status(status, checked_at, w.interval_seconds, now)
                        for status, checked_at in w.regions
                    ),
                    incident_open=w.website_id in open_now,
                ),
                bars=history.bars,
                uptime=history.uptime,
            )
        )
    incidents = [
        PublicIncident(
            name=_label(i.name, i.url, found.show_urls),
            started_at=i.started_at,
            resolved_at=i.resolved_at,
            seconds=max(0.0, ((i.resolved_at or now) - i.started_at).total_seconds()),
        )
        for i in listed
    ]
    resolved = [i for i in incidents if i.resolved_at is not None]
    headline, tone = banner([w.status for w in shown])
    html = page.state.templates.get_template("public_status.html").render(
        title=found.title,
        services=service_items(shown),
        headline=headline,
        tone=tone,
        ongoing=[i for i in incidents if i.resolved_at is None],
        resolved=resolved[:MAX_RESOLVED_SHOWN],
        more_resolved=len(resolved) > MAX_RESOLVED_SHOWN,
        incident_days=INCIDENT_DAYS,
    )
    # Hashing and gzipping a 3 MB page take about 2 + 15 ms of CPU (measured): in a
    # thread (both release the GIL), the event loop serves other requests meanwhile.
    return await asyncio.to_thread(Rendered.of, html)


@router.get("/s/{slug}")
async def status_page(page: PublicPage, request: Request, slug: str) -> Response:
    """The public status page; 304 when the visitor's copy is current."""
    if len(slug) > 64:
        raise _not_found()
    found = await status_pages.get_by_slug(page.db, slug)
    if found is None:
        raise _not_found()
    # Versioned by the page's last change: an edit (title, websites, show_urls) shows at
    # once; statuses, incidents and bars may be up to STATUS_PAGE_CACHE_SECONDS old.
    rendered = await page.state.public_pages.get(
        slug, (found.id, found.updated_at), lambda: _render(page, found)
    )
    # Gzip is safe here: the page holds no secret (see web/compression.py).
    gzipped = rendered.gzipped is not None and accepts_gzip(
        request.headers.get("accept-encoding", "")
    )
    headers = {
        **PAGE_HEADERS,
        "ETag": rendered.gzip_etag if gzipped else rendered.etag,
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "Vary": "Accept-Encoding",
    }
    # Either tag names the current page: the visitor's copy, whichever encoding, is fresh.
    if {rendered.etag, rendered.gzip_etag} & _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    if gzipped and rendered.gzipped is not None:
        headers["Content-Encoding"] = "gzip"
        return Response(rendered.gzipped, headers=headers, media_type=HTML_TYPE)
    return Response(rendered.body, headers=headers, media_type=HTML_TYPE)


def _etags(header: str) -> set[str]:
    """Return the entity tags an If-None-Match header lists (weak ones compare equal)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
