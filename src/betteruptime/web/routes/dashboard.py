"""The dashboard: every website's status, uptime and response times, searched and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from betteruptime.db import listing
from betteruptime.db import status as status_queries
from betteruptime.db.models import Website
from betteruptime.rules.status import Status
from betteruptime.web.figures import dashboard_figures
from betteruptime.web.page import PageError, UserPage, page_number

router = APIRouter()

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    """One website on the dashboard."""

    website: Website
    status: Status
    last_checked_at: datetime | None
    response_ms: float | None


def _status_filter(value: str) -> Status | None:
    if not value:
        return None
    try:
        return Status(value.upper())
    except ValueError:
        raise PageError(400, "Unknown status", "Filter by UP, DOWN or UNKNOWN.") from None


@router.get("/")
async def dashboard(page: UserPage, q: str = "", status: str = "", p: str = "1") -> Response:
    """The dashboard of the logged-in user."""
    text = q.strip()[: listing.SEARCH_MAX_LENGTH]
    wanted = _status_filter(status)
    number = page_number(p)
    offset = (number - 1) * PAGE_SIZE
    owner = page.me.id
    if wanted is None:
        total, websites = await listing.search_owned(page.db, owner, text, PAGE_SIZE, offset)
    else:
        total, ids = await listing.search_owned_by_status(
            page.db, owner, text, wanted, page.now, PAGE_SIZE, offset
        )
        websites = await listing.websites_by_ids(page.db, ids)
    reports = await status_queries.websites_status(page.db, websites, page.now)
    rows = []
    for website in websites:
        report = reports[website.id]
        fresh = [
            r.response_time_ms
            for r in report.regions
            if r.status is not Status.UNKNOWN and r.response_time_ms is not None
        ]
        rows.append(
            Row(
                website=website,
                status=report.status,
                last_checked_at=report.last_checked_at,
                response_ms=sum(fresh) / len(fresh) if fresh else None,
            )
        )
    stats = await dashboard_figures(page.db, [w.id for w in websites], page.now)
    pages = max(1, -(-total // PAGE_SIZE))

    def link(to_page: int) -> str:
        params = {k: v for k, v in (("q", text), ("status", status.upper())) if v}
        if to_page > 1:
            params["p"] = str(to_page)
        return "/?" + urlencode(params) if params else "/"

    return page.render(
        "dashboard.html",
        rows=rows,
        stats=stats,
        total=total,
        q=text,
        status_filter=wanted.value if wanted else "",
        number=number,
        pages=pages,
        prev_link=link(number - 1) if number > 1 else None,
        next_link=link(number + 1) if number < pages else None,
        statuses=[s.value for s in Status],
    )
