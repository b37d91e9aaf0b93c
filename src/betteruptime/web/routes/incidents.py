"""Incidents: the list, one incident with its timeline, acknowledging and resolving."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from betteruptime.db import incidents, websites
from betteruptime.db.incidents import IncidentRow
from betteruptime.db.models import Website
from betteruptime.db.outbox import event_deliveries
from betteruptime.web.page import Page, PageError, UserPage, not_found, page_number, safe_next
from betteruptime.web.routes.websites import owned_website
from betteruptime.web.routing import BrowserRoute

# GET /incidents and /incidents/{id}, and the two POSTs, are API routes too: these answer
# browsers only (a request with a bearer token, or without text/html, reaches the API).
router = APIRouter(route_class=BrowserRoute)

PAGE_SIZE = 25
SHOW = ("all", "open")


async def owned_incident(page: Page, incident_id: str) -> IncidentRow:
    """Return the logged-in user's incident with this id; the 404 page otherwise."""
    try:
        parsed = uuid.UUID(incident_id)
    except ValueError:
        raise not_found("Incident") from None
    row = await incidents.get_incident(page.db, page.me.id, parsed)
    if row is None:
        raise not_found("Incident")
    return row


async def _website_filter(page: Page, value: str) -> Website | None:
    return await owned_website(page, value) if value else None


@router.get("/incidents")
async def list_incidents(
    page: UserPage, show: str = "all", website: str = "", p: str = "1"
) -> Response:
    """The user's incidents: unresolved first, then resolved, newest first; paged."""
    if show not in SHOW:
        raise PageError(400, "Unknown filter", "Show open or all incidents.")
    only = await _website_filter(page, website)
    number = page_number(p)
    website_id = None if only is None else only.id
    unresolved = await incidents.count_unresolved(page.db, page.me.id, website_id)
    rows, more = await incidents.incidents_page(
        page.db,
        page.me.id,
        unresolved_only=show == "open",
        website_id=website_id,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
        unresolved=unresolved,
    )

    def link(to_show: str, to_page: int = 1) -> str:
        params = {"show": to_show} if to_show != "all" else {}
        if only is not None:
            params["website"] = str(only.id)
        if to_page > 1:
            params["p"] = str(to_page)
        return "/incidents?" + urlencode(params) if params else "/incidents"

    return page.render(
        "incidents.html",
        rows=rows,
        unresolved=unresolved,
        show=show,
        only=only,
        links={s: link(s) for s in SHOW},
        number=number,
        prev_link=link(show, number - 1) if number > 1 else None,
        next_link=link(show, number + 1) if more else None,
        back=link(show, number),
    )


@router.get("/incidents/{incident_id}")
async def incident_detail(page: UserPage, incident_id: str) -> Response:
    """One incident: its facts, the buttons, and its timeline with every delivery."""
    row = await owned_incident(page, incident_id)
    website = await websites.get_owned(page.db, row.website_id, page.me.id)
    if website is None:
        raise not_found("Incident")  # deleted with its website since the read above
    events = await incidents.incident_events(page.db, row.id)
    deliveries = await event_deliveries(page.db, [e.id for e in events])
    return page.render(
        "incident.html",
        incident=row,
        website=website,
        events=events,
        deliveries=deliveries,
        back=f"/incidents/{row.id}",
    )


@router.post("/incidents/{incident_id}/acknowledge")
async def acknowledge(page: UserPage, incident_id: str) -> Response:
    """Acknowledge an open incident (reminders stop), then go back where the button was."""
    row = await owned_incident(page, incident_id)
    form = await page.form()
    if row.state == incidents.OPEN:
        # False when it changed since the read (resolved, or acknowledged in another
        # tab): the page it goes back to shows which.
        await incidents.acknowledge(page.db, row.id, page.me.id, page.now)
    return page.redirect(_back(form.get("next"), row))


@router.post("/incidents/{incident_id}/resolve")
async def resolve(page: UserPage, incident_id: str) -> Response:
    """Resolve an incident by hand (no new one opens until the website recovers)."""
    row = await owned_incident(page, incident_id)
    form = await page.form()
    if row.state != incidents.RESOLVED:
        await incidents.resolve_by_hand(page.db, row, page.me.id, page.now)
    return page.redirect(_back(form.get("next"), row))


def _back(next_path: str, row: IncidentRow) -> str:
    target = safe_next(next_path)
    return f"/incidents/{row.id}" if target == "/" else target
