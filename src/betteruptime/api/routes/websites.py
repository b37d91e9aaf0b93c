"""Websites: create, list, read, change, delete, and their ticks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from betteruptime.api.deps import CurrentUser, OwnedWebsite, SessionDep, SettingsDep
from betteruptime.api.errors import InputError, responses
from betteruptime.api.schemas import (
    IsoTime,
    TickPage,
    TickPublic,
    WebsiteCreate,
    WebsitePage,
    WebsitePublic,
    WebsiteUpdate,
)
from betteruptime.db import ticks, websites
from betteruptime.db.ticks import TickCursor
from betteruptime.db.websites import DuplicateUrl, WebsiteLimitReached
from betteruptime.inputs import validate_target_url, website_schedule

router = APIRouter(tags=["websites"])

MAX_PAGE_SIZE = 100
_DUPLICATE_URL = "you already monitor this URL"


@router.post("/website", status_code=201, responses=responses(401, 409, 413, 422))
async def create_website(
    body: WebsiteCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WebsitePublic:
    """Start monitoring a URL; the first check is due at once. Returns the website."""
    url = validate_target_url(body.url, settings)
    interval, timeout = website_schedule(body.interval_seconds, body.timeout_seconds, settings)
    try:
        website = await websites.create_website(
            session,
            user.id,
            kind=body.kind,
            url=url,
            name=body.name,
            interval_seconds=interval,
            timeout_seconds=timeout,
            enabled=body.enabled,
            max_websites=settings.max_websites_per_user,
            now=datetime.now(UTC),
        )
    except WebsiteLimitReached as exc:
        raise HTTPException(
            status_code=409, detail=f"website limit reached: at most {exc.limit} per user"
        ) from None
    except DuplicateUrl:
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
    return WebsitePublic.model_validate(website)


@router.get("/websites", responses=responses(401, 422))
async def list_websites(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WebsitePage:
    """Return one page of the caller's websites, oldest first (ties broken by id)."""
    total = await websites.count_owned(session, user.id)
    rows = await websites.list_owned(session, user.id, limit, offset)
    return WebsitePage(
        items=[WebsitePublic.model_validate(w) for w in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/website/{website_id}", responses=responses(401, 404, 422))
async def get_website(website: OwnedWebsite) -> WebsitePublic:
    """Return one of the caller's websites."""
    return WebsitePublic.model_validate(website)


@router.patch("/website/{website_id}", responses=responses(401, 404, 409, 413, 422))
async def update_website(
    body: WebsiteUpdate, website: OwnedWebsite, session: SessionDep, settings: SettingsDep
) -> WebsitePublic:
    """Change the given fields of a website; returns the website."""
    # WebsiteUpdate refuses an explicit null for these, so None means "not given".
    url = website.url if body.url is None else validate_target_url(body.url, settings)
    interval, timeout = website_schedule(
        body.interval_seconds,
        body.timeout_seconds,
        settings,
        current=(website.interval_seconds, website.timeout_seconds),
    )
    try:
        website = await websites.update_website(
            session,
            website,
            url=url,
            name=body.name if "name" in body.model_fields_set else website.name,
            interval_seconds=interval,
            timeout_seconds=timeout,
            enabled=website.enabled if body.enabled is None else body.enabled,
            now=datetime.now(UTC),
        )
    except DuplicateUrl:
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
    return WebsitePublic.model_validate(website)


@router.delete(
    "/website/{website_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 404, 422),
)
async def delete_website(website: OwnedWebsite, session: SessionDep) -> None:
    """Stop monitoring a website and delete its history."""
    await websites.delete_website(session, website)


@router.get("/website/{website_id}/ticks", responses=responses(401, 404, 422))
async def list_ticks(
    website: OwnedWebsite,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    before: Annotated[
        IsoTime | None,
        Query(description="Only ticks checked before this time (ISO 8601; UTC if no offset)"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="The `next_cursor` of the previous page"),
    ] = None,
) -> TickPage:
    """Return the website's ticks, newest first."""
    if before is not None and cursor is not None:
        raise InputError(("query", "cursor"), "give either cursor or before, not both")
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    after = None
    if cursor is not None:
        try:
            after = TickCursor.decode(cursor)
        except ValueError:
            raise InputError(("query", "cursor"), "is not a cursor of this API") from None
    rows = await ticks.list_ticks(session, website.id, limit, before=before, after=after)
    full = len(rows) == limit
    return TickPage(
        items=[TickPublic.model_validate(t) for t in rows],
        next_cursor=TickCursor.of(rows[-1]).encode() if full else None,
        next_before=rows[-1].checked_at if full else None,
    )
