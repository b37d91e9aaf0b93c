"""Websites: create, list, read, change, delete, and their ticks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from betteruptime.api.deps import CurrentUser, OwnedWebsite, SessionDep, SettingsDep
from betteruptime.api.errors import InputError, responses
from betteruptime.api.kinds import first_down_at, new_ping_key, validate_kind
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
from betteruptime.db import heartbeats, ticks, websites
from betteruptime.db.channels import owned_channel_ids, website_channel_ids
from betteruptime.db.models import Website
from betteruptime.db.ticks import TickCursor
from betteruptime.db.websites import DuplicateUrl, WebsiteLimitReached
from betteruptime.inputs import validate_schedule, validate_target_url
from betteruptime.rules.checks import CheckKind

router = APIRouter(tags=["websites"])

MAX_PAGE_SIZE = 100
_DUPLICATE_URL = "you already monitor this URL"


@router.post("/website", status_code=201, responses=responses(401, 409, 413, 422))
async def create_website(
    body: WebsiteCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WebsitePublic:
    """Start monitoring a target; the first check is due at once. Returns the website."""
    now = datetime.now(UTC)
    target = validate_kind(body.kind, body.url, body.options, settings)
    heartbeat = body.kind is CheckKind.HEARTBEAT
    # A heartbeat's region status stays fresh for two intervals: its period by default.
    interval = body.interval_seconds or target.interval_seconds or settings.default_interval_seconds
    # A short interval with no timeout given gets a timeout that fits inside it.
    timeout = body.timeout_seconds or min(settings.default_timeout_seconds, interval)
    validate_schedule(interval, timeout, settings)
    # Default: every channel the owner has now (a channel added later is not added to
    # existing websites: a user who wants it says so with PATCH).
    channel_ids = await _checked_channel_ids(session, user.id, body.channel_ids)
    try:
        website = await websites.create_website(
            session,
            user.id,
            kind=body.kind,
            url=target.url,
            options=target.options,
            ping_key=new_ping_key() if heartbeat else None,
            heartbeat_down_at=first_down_at(target, now),
            name=body.name,
            interval_seconds=interval,
            timeout_seconds=timeout,
            enabled=body.enabled,
            max_websites=settings.max_websites_per_user,
            now=now,
            thresholds={name: getattr(body, name) for name in THRESHOLD_FIELDS},
            channel_ids=channel_ids,
        )
    except WebsiteLimitReached as exc:
        raise HTTPException(
            status_code=409, detail=f"website limit reached: at most {exc.limit} per user"
        ) from None
    except DuplicateUrl:
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
    return await _public(session, website)


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
    channels = await website_channel_ids(session, [w.id for w in rows])
    return WebsitePage(
        items=[
            WebsitePublic.model_validate(w).model_copy(update={"channel_ids": channels[w.id]})
            for w in rows
        ],
        total=total,
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
    now = datetime.now(UTC)
    url, options, down_at = website.url, website.options, None
    if website.kind is CheckKind.HTTP:
        url = website.url if body.url is None else validate_target_url(body.url, settings)
    elif body.url is not None:
        raise InputError(("body", "url"), f"a {website.kind.value} website has no url; use options")
    if body.options is not None:
        target = validate_kind(
            website.kind,
            url if website.kind is CheckKind.HTTP else None,
            body.options,
            settings,
            heartbeat_url=website.url,
        )
        url, options = target.url, target.options
        last_ping = await heartbeats.last_ping_at(session, website.id)
        down_at = first_down_at(target, last_ping or now)
    interval = body.interval_seconds or website.interval_seconds
    timeout = body.timeout_seconds or website.timeout_seconds
    validate_schedule(interval, timeout, settings)
    channel_ids = (
        None
        if body.channel_ids is None
        else await _checked_channel_ids(session, website.owner_id, body.channel_ids)
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
            now=now,
            options=options,
            heartbeat_down_at=down_at,
            # null is a value here: back to the default.
            thresholds={
                name: getattr(body, name)
                for name in THRESHOLD_FIELDS
                if name in body.model_fields_set
            },
            channel_ids=channel_ids,
        )
    except DuplicateUrl:
        raise HTTPException(status_code=409, detail=_DUPLICATE_URL) from None
    return await _public(session, website)


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


async def _checked_channel_ids(
    session: SessionDep, owner_id: uuid.UUID, given: list[uuid.UUID] | None
) -> list[uuid.UUID]:
    """Return the channel ids to link: the given ones (all the owner's), or all when None."""
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
