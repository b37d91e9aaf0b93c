"""Managing public status pages: list, create, change, delete."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from betteruptime.db import listing, status_pages
from betteruptime.db.models import StatusPage
from betteruptime.inputs import MAX_STATUS_PAGE_WEBSITES, StatusPageCreate, StatusPageUpdate
from betteruptime.web.forms import field_errors
from betteruptime.web.page import Form, Page, UserPage, not_found
from betteruptime.web.routing import BrowserRoute

DUPLICATE_SLUG = "another status page already uses this slug"
FOREIGN = "must list only your own websites"

router = APIRouter()
browser_router = APIRouter(route_class=BrowserRoute)


async def owned_page(page: Page, page_id: str) -> StatusPage:
    """Return the logged-in user's status page with this id; the 404 page otherwise."""
    try:
        parsed = uuid.UUID(page_id)
    except ValueError:
        raise not_found("Status page") from None
    found = await status_pages.get_owned(page.db, parsed, page.me.id)
    if found is None:
        raise not_found("Status page")
    return found


@browser_router.get("/status-pages")
async def list_pages(page: UserPage) -> Response:
    """The user's status pages."""
    pages = await status_pages.list_owned(page.db, page.me.id)
    counts = await status_pages.website_ids_of(page.db, [p.id for p in pages])
    return page.render("status_pages.html", pages=pages, counts=counts)


async def _choices(page: Page) -> list[Any]:
    # Every website of the user, to tick; the per-user cap keeps this list bounded.
    _, websites = await listing.search_owned(page.db, page.me.id, "", MAX_STATUS_PAGE_WEBSITES, 0)
    return websites


def _submitted(form: Form) -> dict[str, Any]:
    return {
        "title": form.get("title").strip(),
        "slug": form.get("slug").strip(),
        "show_urls": form.get("show_urls") == "on",
        "website_ids": form.lists.get("website_ids", []),
    }


def _values(form: Form) -> dict[str, Any]:
    return {
        "title": form.get("title"),
        "slug": form.get("slug"),
        "show_urls": form.get("show_urls") == "on",
        "website_ids": set(form.lists.get("website_ids", [])),
    }


async def _form_page(
    page: Page,
    status_page: StatusPage | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return page.render(
        "status_page_form.html",
        status=status,
        status_page=status_page,
        values=values,
        errors=errors,
        choices=await _choices(page),
    )


@router.get("/status-pages/new")
async def new_page(page: UserPage) -> Response:
    """The form to create a status page."""
    values = {"title": "", "slug": "", "show_urls": False, "website_ids": set()}
    return await _form_page(page, None, values, {})


@router.post("/status-pages/new")
async def create_page(page: UserPage) -> Response:
    """Create a status page with the API's rules."""
    form = await page.form()
    try:
        body = StatusPageCreate.model_validate(_submitted(form))
    except ValidationError as exc:
        return await _form_page(page, None, _values(form), field_errors(exc), 422)
    try:
        await status_pages.create_page(
            page.db,
            page.me.id,
            title=body.title,
            slug=body.slug,
            show_urls=body.show_urls,
            website_ids=body.website_ids,
            now=page.now,
        )
    except status_pages.ForeignWebsites:
        return await _form_page(page, None, _values(form), {"website_ids": FOREIGN}, 422)
    except status_pages.DuplicateSlug:
        await page.after_rollback()
        return await _form_page(page, None, _values(form), {"slug": DUPLICATE_SLUG}, 409)
    return page.redirect("/status-pages")


@router.get("/status-pages/{page_id}/edit")
async def edit_page(page: UserPage, page_id: str) -> Response:
    """The form to change a status page."""
    found = await owned_page(page, page_id)
    ids = (await status_pages.website_ids_of(page.db, [found.id]))[found.id]
    values = {
        "title": found.title,
        "slug": found.slug,
        "show_urls": found.show_urls,
        "website_ids": {str(i) for i in ids},
    }
    return await _form_page(page, found, values, {})


@router.post("/status-pages/{page_id}/edit")
async def update_page(page: UserPage, page_id: str) -> Response:
    """Change a status page with the API's rules; nothing is saved unless all is valid."""
    found = await owned_page(page, page_id)
    form = await page.form()
    try:
        body = StatusPageUpdate.model_validate(_submitted(form))
    except ValidationError as exc:
        return await _form_page(page, found, _values(form), field_errors(exc), 422)
    assert body.title is not None and body.slug is not None and body.show_urls is not None
    try:
        await status_pages.update_page(
            page.db,
            found,
            title=body.title,
            slug=body.slug,
            show_urls=body.show_urls,
            website_ids=body.website_ids,
            now=page.now,
        )
    except status_pages.ForeignWebsites:
        return await _form_page(page, found, _values(form), {"website_ids": FOREIGN}, 422)
    except status_pages.DuplicateSlug:
        await page.after_rollback()
        found = await owned_page(page, page_id)
        return await _form_page(page, found, _values(form), {"slug": DUPLICATE_SLUG}, 409)
    return page.redirect("/status-pages")


@router.get("/status-pages/{page_id}/delete")
async def confirm_delete(page: UserPage, page_id: str) -> Response:
    """Ask before deleting a status page."""
    found = await owned_page(page, page_id)
    return page.render("status_page_delete.html", status_page=found)


@router.post("/status-pages/{page_id}/delete")
async def delete_page(page: UserPage, page_id: str) -> Response:
    """Delete the status page (after the confirmation form)."""
    found = await owned_page(page, page_id)
    await page.form()
    await status_pages.delete_page(page.db, found)
    return page.redirect("/status-pages")
