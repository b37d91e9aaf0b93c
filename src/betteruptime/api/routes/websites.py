"""Websites: create, list, read, change, delete, and their ticks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from betteruptime.api.deps import CurrentUser, OwnedWebsite, SessionDep, SettingsDep
from betteruptime.api.errors import responses
from betteruptime.api.schemas import (
    IsoTime,
    TickPage,
    TickPublic,
    WebsiteCreate,
    WebsitePage,
    WebsitePublic,
    WebsiteUpdate,
)
from betteruptime.db.models import User, Website, WebsiteTick
from betteruptime.inputs import validate_schedule, validate_target_url

router = APIRouter(tags=["websites"])

MAX_PAGE_SIZE = 100
_DUPLICATE_URL = "you already monitor this URL"


@router.post("/website", status_code=201, responses=responses(401, 409, 413, 422))
async def create_website(
    body: WebsiteCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WebsitePublic:
    """Start monitoring a URL; the first check is due at once. Returns the website."""
    url = validate_target_url(body.url, settings)
    interval = body.interval_seconds or settings.default_interval_seconds
    # A short interval with no timeout given gets a timeout that fits inside it.
    timeout = body.timeout_seconds or min(settings.default_timeout_seconds, interval)
    validate_schedule(interval, timeout, settings)
    await _lock_owner(session, user.id)
    # Counted after the lock: a concurrent create by the same user waits for our commit,
    # then counts our row too, so the cap is never overshot.
    count = await session.scalar(select(func.count()).where(Website.owner_id == user.id))
    if (count or 0) >= settings.max_websites_per_user:
        raise HTTPException(
            status_code=409,
            detail=f"website limit reached: at most {settings.max_websites_per_user} per user",
        )
    if await _owner_has_url(session, user.id, url):
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL)
    website = Website(
        owner_id=user.id,
        url=url,
        name=body.name,
        interval_seconds=interval,
        timeout_seconds=timeout,
        enabled=body.enabled,
        next_check_at=datetime.now(UTC),
    )
    session.add(website)
    await _commit_or_conflict(session)
    return WebsitePublic.model_validate(website)


@router.get("/websites", responses=responses(401, 422))
async def list_websites(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> WebsitePage:
    """Return one page of the caller's websites, oldest first (ties broken by id)."""
    total = await session.scalar(select(func.count()).where(Website.owner_id == user.id))
    rows = await session.scalars(
        select(Website)
        .where(Website.owner_id == user.id)
        .order_by(Website.created_at, Website.id)
        .limit(limit)
        .offset(offset)
    )
    return WebsitePage(
        items=[WebsitePublic.model_validate(w) for w in rows],
        total=total or 0,
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
    interval = body.interval_seconds or website.interval_seconds
    timeout = body.timeout_seconds or website.timeout_seconds
    validate_schedule(interval, timeout, settings)
    enabled = website.enabled if body.enabled is None else body.enabled
    if url != website.url and await _owner_has_url(session, website.owner_id, url):
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL)

    now = datetime.now(UTC)
    if url != website.url or (enabled and not website.enabled):
        # A new target, or monitoring switched back on: check it now, not an interval later.
        website.next_check_at = now
    elif interval != website.interval_seconds:
        # A shorter interval brings the next check forward; a longer one never delays a
        # check that was already due sooner.
        website.next_check_at = min(website.next_check_at, now + timedelta(seconds=interval))
    website.url = url
    website.interval_seconds = interval
    website.timeout_seconds = timeout
    website.enabled = enabled
    if "name" in body.model_fields_set:
        website.name = body.name
    await _commit_or_conflict(session)
    return WebsitePublic.model_validate(website)


@router.delete(
    "/website/{website_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 404, 422),
)
async def delete_website(website: OwnedWebsite, session: SessionDep) -> None:
    """Stop monitoring a website and delete its history."""
    await session.delete(website)
    await session.commit()


@router.get("/website/{website_id}/ticks", responses=responses(401, 404, 422))
async def list_ticks(
    website: OwnedWebsite,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    before: Annotated[
        IsoTime | None,
        Query(description="Only ticks checked before this time (ISO 8601; UTC if no offset)"),
    ] = None,
) -> TickPage:
    """Return the website's ticks, newest first."""
    query = select(WebsiteTick).where(WebsiteTick.website_id == website.id)
    if before is not None:
        if before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
        query = query.where(WebsiteTick.checked_at < before)
    rows = list(
        await session.scalars(
            query.order_by(WebsiteTick.checked_at.desc(), WebsiteTick.id.desc()).limit(limit)
        )
    )
    next_before = rows[-1].checked_at if len(rows) == limit else None
    return TickPage(items=[TickPublic.model_validate(t) for t in rows], next_before=next_before)


async def _lock_owner(session: SessionDep, owner_id: uuid.UUID) -> None:
    """Serialise website creation per user until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        # Locks only this user's row: other users create websites concurrently.
        await session.execute(select(User.id).where(User.id == owner_id).with_for_update())
    else:
        # SQLite has one writer and runs reads outside a transaction until the first
        # write; a no-op write takes the write lock now, so the count below is current.
        await session.execute(
            update(User)
            .where(User.id == owner_id)
            .values(id=User.id)
            .execution_options(synchronize_session=False)
        )


async def _owner_has_url(session: SessionDep, owner_id: object, url: str) -> bool:
    found = await session.scalar(
        select(Website.id).where(Website.owner_id == owner_id, Website.url == url)
    )
    return found is not None


async def _commit_or_conflict(session: SessionDep) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # The (owner, url) key caught a concurrent request that won the race.
        await session.rollback()
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
