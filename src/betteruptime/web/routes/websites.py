"""Adding, changing, deleting and looking at one website."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from betteruptime.db import channels, incidents, stats, ticks, websites
from betteruptime.db import status as status_queries
from betteruptime.db.badges import rotate_badge_key
from betteruptime.db.models import Website
from betteruptime.inputs import (
    InputError,
    WebsiteCreate,
    WebsiteUpdate,
    validate_target_url,
    website_schedule,
)
from betteruptime.web.badges import UPTIME_WINDOWS
from betteruptime.web.charts import response_chart
from betteruptime.web.figures import HISTORY_DAYS, history_of
from betteruptime.web.forms import field_errors, input_errors, whole_number
from betteruptime.web.page import Form, Page, UserPage, not_found

router = APIRouter()

FIELDS = ("url", "name", "interval_seconds", "timeout_seconds")
LATEST_CHECKS = 20
LATEST_INCIDENTS = 20


async def owned_website(page: Page, website_id: str) -> Website:
    """Return the logged-in user's website with this id; the 404 page otherwise."""
    try:
        parsed = uuid.UUID(website_id)
    except ValueError:
        raise not_found("Website") from None
    website = await websites.get_owned(page.db, parsed, page.me.id)
    if website is None:
        raise not_found("Website")
    return website


def _submitted(form: Form) -> dict[str, Any]:
    """Return the form as the API's JSON body would carry it."""
    return {
        "url": form.get("url").strip(),
        "name": form.get("name").strip() or None,
        "interval_seconds": whole_number(form.get("interval_seconds")),
        "timeout_seconds": whole_number(form.get("timeout_seconds")),
        "enabled": form.get("enabled") == "on",
    }


def _values(form: Form) -> dict[str, Any]:
    """Return what the user typed, to show again next to the errors."""
    values: dict[str, Any] = {name: form.get(name) for name in FIELDS}
    values["enabled"] = form.get("enabled") == "on"
    return values


def _website_values(website: Website) -> dict[str, Any]:
    return {
        "url": website.url,
        "name": website.name or "",
        "interval_seconds": str(website.interval_seconds),
        "timeout_seconds": str(website.timeout_seconds),
        "enabled": website.enabled,
    }


@router.get("/websites/new")
async def new_website(page: UserPage) -> Response:
    """The form to add a website."""
    values = {"url": "", "name": "", "interval_seconds": "", "timeout_seconds": ""}
    return page.render(
        "website_form.html", website=None, values=values | {"enabled": True}, errors={}
    )


@router.post("/websites/new")
async def create_website(page: UserPage) -> Response:
    """Add a website with the API's rules; errors go back next to their fields."""
    form = await page.form()
    settings = page.state.settings

    def again(errors: dict[str, str], status: int) -> Response:
        return page.render(
            "website_form.html", status=status, website=None, values=_values(form), errors=errors
        )

    try:
        body = WebsiteCreate.model_validate(_submitted(form))
        # The page adds HTTP websites only; the API's other kinds have no URL field here.
        if body.url is None:
            raise InputError(("body", "url"), "is required")
        url = validate_target_url(body.url, settings)
        interval, timeout = website_schedule(body.interval_seconds, body.timeout_seconds, settings)
    except ValidationError as exc:
        return again(field_errors(exc), 422)
    except InputError as exc:
        return again(input_errors(exc), 422)
    try:
        website = await websites.create_website(
            page.db,
            page.me.id,
            kind=body.kind,
            url=url,
            name=body.name,
            interval_seconds=interval,
            timeout_seconds=timeout,
            enabled=body.enabled,
            max_websites=settings.max_websites_per_user,
            now=page.now,
            # As in the API: every channel the owner has now.
            channel_ids=await channels.owned_channel_ids(page.db, page.me.id),
        )
    except websites.WebsiteLimitReached as exc:
        await page.after_rollback()
        return again({"form": f"You have reached the limit of {exc.limit} websites."}, 409)
    except websites.DuplicateUrl:
        await page.after_rollback()
        return again({"url": "you already monitor this URL"}, 409)
    return page.redirect(f"/websites/{website.id}")


@router.get("/websites/{website_id}/edit")
async def edit_website(page: UserPage, website_id: str) -> Response:
    """The form to change a website."""
    website = await owned_website(page, website_id)
    return page.render(
        "website_form.html", website=website, values=_website_values(website), errors={}
    )


@router.post("/websites/{website_id}/edit")
async def update_website(page: UserPage, website_id: str) -> Response:
    """Change a website with the API's rules; nothing is saved unless everything is valid."""
    website = await owned_website(page, website_id)
    form = await page.form()
    settings = page.state.settings

    def again(errors: dict[str, str], status: int) -> Response:
        return page.render(
            "website_form.html", status=status, website=website, values=_values(form), errors=errors
        )

    try:
        # A blank number keeps the current value, as an absent field does in the API.
        submitted = {k: v for k, v in _submitted(form).items() if v is not None or k == "name"}
        body = WebsiteUpdate.model_validate(submitted)
        assert body.url is not None  # the form always sends one
        url = validate_target_url(body.url, settings)
        interval, timeout = website_schedule(
            body.interval_seconds,
            body.timeout_seconds,
            settings,
            current=(website.interval_seconds, website.timeout_seconds),
        )
    except ValidationError as exc:
        return again(field_errors(exc), 422)
    except InputError as exc:
        return again(input_errors(exc), 422)
    try:
        await websites.update_website(
            page.db,
            website,
            url=url,
            name=body.name,
            interval_seconds=interval,
            timeout_seconds=timeout,
            enabled=bool(body.enabled),
            now=page.now,
        )
    except websites.DuplicateUrl:
        # A lost race rolled the session back: read the website again before showing it.
        await page.db.rollback()
        await page.after_rollback()
        website = await owned_website(page, website_id)
        return again({"url": "you already monitor this URL"}, 409)
    return page.redirect(f"/websites/{website.id}")


@router.get("/websites/{website_id}/delete")
async def confirm_delete(page: UserPage, website_id: str) -> Response:
    """Ask before deleting a website and its history."""
    website = await owned_website(page, website_id)
    return page.render("website_delete.html", website=website)


@router.post("/websites/{website_id}/delete")
async def delete_website(page: UserPage, website_id: str) -> Response:
    """Delete the website (after the confirmation form)."""
    website = await owned_website(page, website_id)
    await page.form()
    await websites.delete_website(page.db, website)
    return page.redirect("/")


@router.post("/websites/{website_id}/badge-key")
async def new_badge_key(page: UserPage, website_id: str) -> Response:
    """Replace the website's badge key; old badge links stop working."""
    website = await owned_website(page, website_id)
    await page.form()
    await rotate_badge_key(page.db, website)
    return page.redirect(f"/websites/{website.id}#badges")


@router.get("/websites/{website_id}")
async def website_detail(page: UserPage, website_id: str) -> Response:
    """One website: uptime, 90 daily bars, response times, regions, latest checks, badges."""
    website = await owned_website(page, website_id)
    report = await status_queries.website_status(page.db, website, page.now)
    latest = await ticks.list_ticks(page.db, website.id, LATEST_CHECKS)
    # Newest first: the open incident (there is at most one) started after every other.
    recent = await incidents.list_incidents(
        page.db, page.me.id, website_id=website.id, limit=LATEST_INCIDENTS + 1
    )
    uptimes = {
        label: (await stats.success_ratios(page.db, [website.id], window, page.now)).get(website.id)
        for label, window in UPTIME_WINDOWS.items()
    }
    hourly = await stats.hourly_response_times(page.db, [website.id], 24, page.now)
    days = await stats.daily_history(page.db, [website.id], HISTORY_DAYS, page.now)
    name = website.name or website.url
    base = page.state.settings.public_url or str(page.request.base_url).rstrip("/")
    return page.render(
        "website.html",
        website=website,
        report=report,
        latest=latest,
        incidents=recent[:LATEST_INCIDENTS],
        more_incidents=len(recent) > LATEST_INCIDENTS,
        uptimes=uptimes,
        chart=response_chart(
            hourly.get(website.id, []), f"Average response time per hour of {name}", "24 h"
        ),
        history=history_of(days.get(website.id, []), name),
        base_url=base,
    )
