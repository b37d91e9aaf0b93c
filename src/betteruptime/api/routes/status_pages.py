"""Public status pages: create, list, read, change, delete (owner only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from betteruptime.api.deps import CurrentUser, SessionDep
from betteruptime.api.errors import responses
from betteruptime.api.schemas import StatusPageCreate, StatusPagePublic, StatusPageUpdate
from betteruptime.db import status_pages
from betteruptime.db.models import StatusPage
from betteruptime.inputs import InputError

router = APIRouter(tags=["status pages"])

_DUPLICATE_SLUG = "another status page already uses this slug"
PageId = Annotated[uuid.UUID, Path(description="The status page's id (a UUID)")]


def _public(page: StatusPage, website_ids: list[uuid.UUID]) -> StatusPagePublic:
    return StatusPagePublic(
        id=page.id,
        title=page.title,
        slug=page.slug,
        show_urls=page.show_urls,
        website_ids=website_ids,
        created_at=page.created_at,
        updated_at=page.updated_at,
    )


async def _owned(session: SessionDep, page_id: uuid.UUID, user_id: uuid.UUID) -> StatusPage:
    page = await status_pages.get_owned(session, page_id, user_id)
    if page is None:
        raise HTTPException(status_code=404, detail="status page not found")
    return page


def _foreign(exc: status_pages.ForeignWebsites) -> InputError:
    # Another user's website and a missing one read the same: "not one of yours".
    return InputError(("body", "website_ids"), "must list only your own websites")


@router.post("/status-pages", status_code=201, responses=responses(401, 409, 413, 422))
async def create_status_page(
    body: StatusPageCreate, user: CurrentUser, session: SessionDep
) -> StatusPagePublic:
    """Publish a status page at /s/{slug} showing the chosen websites. Returns the page."""
    try:
        page = await status_pages.create_page(
            session,
            user.id,
            title=body.title,
            slug=body.slug,
            show_urls=body.show_urls,
            website_ids=body.website_ids,
            now=datetime.now(UTC),
        )
    except status_pages.ForeignWebsites as exc:
        raise _foreign(exc) from None
    except status_pages.DuplicateSlug:
        raise HTTPException(status_code=409, detail=_DUPLICATE_SLUG) from None
    return _public(page, list(body.website_ids))


@router.get("/status-pages", responses=responses(401))
async def list_status_pages(user: CurrentUser, session: SessionDep) -> list[StatusPagePublic]:
    """Return the caller's status pages, oldest first."""
    pages = await status_pages.list_owned(session, user.id)
    ids = await status_pages.website_ids_of(session, [p.id for p in pages])
    return [_public(page, ids[page.id]) for page in pages]


@router.get("/status-pages/{status_page_id}", responses=responses(401, 404, 422))
async def get_status_page(
    status_page_id: PageId, user: CurrentUser, session: SessionDep
) -> StatusPagePublic:
    """Return one of the caller's status pages."""
    page = await _owned(session, status_page_id, user.id)
    ids = await status_pages.website_ids_of(session, [page.id])
    return _public(page, ids[page.id])


@router.patch("/status-pages/{status_page_id}", responses=responses(401, 404, 409, 413, 422))
async def update_status_page(
    status_page_id: PageId, body: StatusPageUpdate, user: CurrentUser, session: SessionDep
) -> StatusPagePublic:
    """Change the given fields of a status page; `website_ids` replaces the whole list."""
    page = await _owned(session, status_page_id, user.id)
    try:
        page = await status_pages.update_page(
            session,
            page,
            title=page.title if body.title is None else body.title,
            slug=page.slug if body.slug is None else body.slug,
            show_urls=page.show_urls if body.show_urls is None else body.show_urls,
            website_ids=body.website_ids,
            now=datetime.now(UTC),
        )
    except status_pages.ForeignWebsites as exc:
        raise _foreign(exc) from None
    except status_pages.DuplicateSlug:
        raise HTTPException(status_code=409, detail=_DUPLICATE_SLUG) from None
    ids = await status_pages.website_ids_of(session, [page.id])
    return _public(page, ids[page.id])


@router.delete(
    "/status-pages/{status_page_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 404, 422),
)
async def delete_status_page(
    status_page_id: PageId, user: CurrentUser, session: SessionDep
) -> None:
    """Unpublish and delete a status page (its websites stay)."""
    page = await _owned(session, status_page_id, user.id)
    await status_pages.delete_page(session, page)
