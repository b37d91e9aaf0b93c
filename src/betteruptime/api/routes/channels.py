"""Notification channels: create, list, read, change, delete and test-send."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response

from betteruptime.api.deps import AppStateDep, CurrentUser, SessionDep
from betteruptime.api.errors import InputError, responses
from betteruptime.api.schemas import (
    ChannelCreate,
    ChannelList,
    ChannelPublic,
    ChannelUpdate,
    DeliveryResult,
)
from betteruptime.db import channels as db
from betteruptime.db.models import Channel
from betteruptime.inputs import MAX_CHANNELS_PER_USER
from betteruptime.log import get_logger
from betteruptime.notify.sender import send_test_message
from betteruptime.notify.urls import (
    ChannelUrl,
    InvalidChannelUrl,
    masked_stored_url,
    parse_channel_url,
)

router = APIRouter(tags=["channels"])
log = get_logger(__name__)


def _validated(url: str) -> ChannelUrl:
    try:
        return parse_channel_url(url)
    except InvalidChannelUrl as exc:
        raise InputError(("body", "url"), str(exc)) from None


def _public(channel: Channel, state: AppStateDep) -> ChannelPublic:
    masked = masked_stored_url(state.cipher, channel.url_encrypted, channel.scheme)
    return ChannelPublic(
        id=channel.id,
        name=channel.name,
        scheme=channel.scheme,
        url=masked,
        created_at=channel.created_at,
    )


async def get_owned_channel(
    user: CurrentUser,
    session: SessionDep,
    channel_id: Annotated[uuid.UUID, Path(description="The channel's id (a UUID)")],
) -> Channel:
    """Return the channel when the current user owns it; 404 otherwise, never 403."""
    channel = await db.get_owned_channel(session, user.id, channel_id)
    if channel is None:
        raise HTTPException(status_code=404, detail="channel not found")
    return channel


OwnedChannel = Annotated[Channel, Depends(get_owned_channel)]


@router.post("/channels", status_code=201, responses=responses(401, 409, 413, 422))
async def create_channel(
    body: ChannelCreate, user: CurrentUser, session: SessionDep, state: AppStateDep
) -> ChannelPublic:
    """Add a channel (an Apprise URL, validated without sending). Returns it, URL masked."""
    parsed = _validated(body.url)
    if await db.count_owned_channels(session, user.id) >= MAX_CHANNELS_PER_USER:
        raise HTTPException(
            status_code=409, detail=f"channel limit reached: at most {MAX_CHANNELS_PER_USER}"
        )
    channel = await db.add_channel(
        session, user.id, body.name, state.cipher.encrypt(parsed.url), parsed.scheme
    )
    log.info("channel created", channel_id=str(channel.id), url=parsed.masked)
    return _public(channel, state)


@router.get("/channels", responses=responses(401))
async def list_channels(user: CurrentUser, session: SessionDep, state: AppStateDep) -> ChannelList:
    """Return the caller's channels, oldest first."""
    rows = await db.list_owned_channels(session, user.id)
    return ChannelList(items=[_public(c, state) for c in rows])


@router.get("/channels/{channel_id}", responses=responses(401, 404, 422))
async def get_channel(channel: OwnedChannel, state: AppStateDep) -> ChannelPublic:
    """Return one of the caller's channels, URL masked."""
    return _public(channel, state)


@router.patch("/channels/{channel_id}", responses=responses(401, 404, 413, 422))
async def update_channel(
    body: ChannelUpdate, channel: OwnedChannel, session: SessionDep, state: AppStateDep
) -> ChannelPublic:
    """Change a channel's name or URL; returns it, URL masked."""
    if body.url is not None:
        parsed = _validated(body.url)
        channel.url_encrypted = state.cipher.encrypt(parsed.url)
        channel.scheme = parsed.scheme
    if body.name is not None:
        channel.name = body.name
    await session.commit()
    return _public(channel, state)


@router.delete(
    "/channels/{channel_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 404, 422),
)
async def delete_channel(channel: OwnedChannel, session: SessionDep) -> None:
    """Delete a channel; websites stop notifying it and its deliveries go with it."""
    await db.delete_channel(session, channel)


@router.post("/channels/{channel_id}/test", responses=responses(401, 404, 422, 429))
async def test_channel(
    channel: OwnedChannel, user: CurrentUser, state: AppStateDep
) -> DeliveryResult:
    """Send a test message now; returns whether it was delivered (error masked)."""
    # Per user, in the bucket the page's Send test button counts in too.
    await state.rate_limits.hit("channel_test", "user", str(user.id))
    result = await send_test_message(state.sender, state.cipher, channel.id, channel.url_encrypted)
    return DeliveryResult(ok=result.ok, error=result.error, elapsed_ms=result.elapsed_ms)
