"""Websites: create, list, read, change, delete, and their ticks."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from betteruptime.api.deps import CurrentUser, OwnedWebsite, SessionDep, SettingsDep
from betteruptime.api.errors import InputError, responses
from betteruptime.api.schemas import (
    THRESHOLD_FIELDS,
    IsoTime,
    TickPage,
    TickPublic,
    WebsiteCreate,
    WebsitePage,
    WebsitePublic,
    WebsiteUpdate,
)
from betteruptime.api.validation import validate_schedule, validate_target_url
from betteruptime.db.channels import owned_channel_ids, set_website_channels, website_channel_ids
from betteruptime.db.models import User, Website, WebsiteTick

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
        id=uuid.uuid4(),
        owner_id=user.id,
        url=url,
        name=body.name,
        interval_seconds=interval,
        timeout_seconds=timeout,
        enabled=body.enabled,
        next_check_at=datetime.now(UTC),
        **{name: getattr(body, name) for name in THRESHOLD_FIELDS},
    )
    # Default: every channel the owner has now (a new channel later is not added to
    # existing websites: a user who wants it says so with PATCH).
    channel_ids = await _checked_channel_ids(session, user.id, body.channel_ids)
    session.add(website)
    await _commit_or_conflict(session, set_website_channels(session, website.id, channel_ids))
    return await _public(session, website)


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
    websites = list(rows)
    channels = await website_channel_ids(session, [w.id for w in websites])
    return WebsitePage(
        items=[
            WebsitePublic.model_validate(w).model_copy(update={"channel_ids": channels[w.id]})
            for w in websites
        ],
        total=total or 0,
        limit=limit,
        offset=offset,
    )


@router.get("/website/{website_id}", responses=responses(401, 404, 422))
async def get_website(website: OwnedWebsite, session: SessionDep) -> WebsitePublic:
    """Return one of the caller's websites."""
    return await _public(session, website)


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
    for name in THRESHOLD_FIELDS:
        # null is a value here: back to the default.
        if name in body.model_fields_set:
            setattr(website, name, getattr(body, name))
    if body.channel_ids is not None:
        channel_ids = await _checked_channel_ids(session, website.owner_id, body.channel_ids)
        await set_website_channels(session, website.id, channel_ids)
    await _commit_or_conflict(session)
    return await _public(session, website)


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


async def _checked_channel_ids(
    session: SessionDep, owner_id: uuid.UUID, given: list[uuid.UUID] | None
) -> list[uuid.UUID]:
    """Return the channel ids to link: given ones (all the owner's), or all when None."""
    if given is None:
        return await owned_channel_ids(session, owner_id)
    found = set(await owned_channel_ids(session, owner_id, set(given)))
    for index, channel_id in enumerate(given):
        if channel_id not in found:
            # Another user's channel gets the same answer as one that does not exist.
            raise InputError(("body", "channel_ids", index), "no such channel")
    return list(dict.fromkeys(given))


async def _public(session: SessionDep, website: Website) -> WebsitePublic:
    """Return the website as the API shows it, with its channel ids."""
    channels = await website_channel_ids(session, [website.id])
    return WebsitePublic.model_validate(website).model_copy(
        update={"channel_ids": channels[website.id]}
    )


async def _owner_has_url(session: SessionDep, owner_id: object, url: str) -> bool:
    found = await session.scalar(
        select(Website.id).where(Website.owner_id == owner_id, Website.url == url)
    )
    return found is not None


async def _commit_or_conflict(
    session: SessionDep, before: Coroutine[Any, Any, None] | None = None
) -> None:
    try:
        if before is not None:
            # Its statements flush the pending website first: the same conflict can hit here.
            await before
        await session.commit()
    except IntegrityError:
        # The (owner, url) key caught a concurrent request that won the race.
        await session.rollback()
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
