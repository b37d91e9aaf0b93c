"""Notification channels: list, add, look at one, send a test message, delete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from betteruptime.db import channels
from betteruptime.db.models import Channel
from betteruptime.db.outbox import channel_deliveries
from betteruptime.inputs import MAX_CHANNELS_PER_USER, ChannelCreate
from betteruptime.log import get_logger
from betteruptime.notify.sender import send_test_message
from betteruptime.notify.urls import InvalidChannelUrl, masked_stored_url, parse_channel_url
from betteruptime.ratelimit import RateLimited
from betteruptime.web.forms import field_errors
from betteruptime.web.page import Page, UserPage, not_found
from betteruptime.web.routing import BrowserRoute

log = get_logger(__name__)

# GET and POST /channels, GET /channels/{id} and POST /channels/{id}/test are API routes
# too: these answer browsers only. The confirmation page and deletion have paths of their own.
browser_router = APIRouter(route_class=BrowserRoute)
router = APIRouter()

RECENT_DELIVERIES = 20


@dataclass(frozen=True)
class ChannelView:
    """A channel as the pages show it: the URL masked, never the stored secret."""

    id: uuid.UUID
    name: str
    scheme: str
    masked_url: str
    created_at: datetime


@dataclass(frozen=True)
class TestOutcome:
    """What the last Send test did, shown beside the channel."""

    channel_id: uuid.UUID
    channel_name: str
    ok: bool
    message: str


def _view(page: Page, channel: Channel) -> ChannelView:
    return ChannelView(
        id=channel.id,
        name=channel.name,
        scheme=channel.scheme,
        masked_url=masked_stored_url(page.state.cipher, channel.url_encrypted, channel.scheme),
        created_at=channel.created_at,
    )


async def owned_channel(page: Page, channel_id: str) -> Channel:
    """Return the logged-in user's channel with this id; the 404 page otherwise."""
    try:
        parsed = uuid.UUID(channel_id)
    except ValueError:
        raise not_found("Channel") from None
    channel = await channels.get_owned_channel(page.db, page.me.id, parsed)
    if channel is None:
        raise not_found("Channel")
    return channel


async def _list_page(
    page: Page,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    tested: TestOutcome | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    rows = await channels.list_owned_channels(page.db, page.me.id)
    return page.render(
        "channels.html",
        status=status,
        headers=headers,
        channels=[_view(page, c) for c in rows],
        values=values or {"name": "", "url": ""},
        errors=errors or {},
        tested=tested,
        limit=MAX_CHANNELS_PER_USER,
    )


async def _detail_page(
    page: Page,
    channel: Channel,
    *,
    tested: TestOutcome | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    deliveries = await channel_deliveries(page.db, channel.id, RECENT_DELIVERIES)
    return page.render(
        "channel.html",
        status=status,
        headers=headers,
        channel=_view(page, channel),
        deliveries=deliveries,
        tested=tested,
    )


@browser_router.get("/channels")
async def list_channels(page: UserPage) -> Response:
    """The user's channels, and the form to add one."""
    return await _list_page(page)


@browser_router.post("/channels")
async def add_channel(page: UserPage) -> Response:
    """Add a channel with the API's rules (Apprise checks the URL without sending)."""
    form = await page.form()
    values = {"name": form.get("name"), "url": form.get("url")}

    async def again(errors: dict[str, str], status: int) -> Response:
        # The URL is kept too: it is the user's own, on a page nobody caches (no-store).
        return await _list_page(page, values=values, errors=errors, status=status)

    try:
        body = ChannelCreate.model_validate({"name": values["name"].strip(), "url": values["url"]})
        parsed = parse_channel_url(body.url)
    except ValidationError as exc:
        return await again(field_errors(exc), 422)
    except InvalidChannelUrl as exc:
        return await again({"url": str(exc)}, 422)
    if await channels.count_owned_channels(page.db, page.me.id) >= MAX_CHANNELS_PER_USER:
        return await again(
            {"form": f"You have reached the limit of {MAX_CHANNELS_PER_USER} channels."}, 409
        )
    channel = await channels.add_channel(
        page.db, page.me.id, body.name, page.state.cipher.encrypt(parsed.url), parsed.scheme
    )
    log.info("channel created", channel_id=str(channel.id), url=parsed.masked)
    return page.redirect(f"/channels#channel-{channel.id}")


@browser_router.get("/channels/{channel_id}")
async def channel_detail(page: UserPage, channel_id: str) -> Response:
    """One channel: its masked URL, Send test, and its latest deliveries."""
    return await _detail_page(page, await owned_channel(page, channel_id))


@browser_router.post("/channels/{channel_id}/test")
async def send_test(page: UserPage, channel_id: str) -> Response:
    """Send a test message now and show whether it arrived, on the page the button was on."""
    channel = await owned_channel(page, channel_id)
    form = await page.form()
    status = 200
    headers: dict[str, str] | None = None
    try:
        # The API's bucket: the button and POST /channels/{id}/test count together.
        await page.state.rate_limits.hit("channel_test", "user", str(page.me.id))
    except RateLimited as exc:
        status, headers = 429, {"Retry-After": str(exc.retry_after)}
        tested = TestOutcome(
            channel.id,
            channel.name,
            ok=False,
            message=f"Not sent: too many test messages. Retry in {exc.retry_after} seconds.",
        )
    else:
        result = await send_test_message(
            page.state.sender, page.state.cipher, channel.id, channel.url_encrypted
        )
        message = (
            f"Delivered in {result.elapsed_ms} ms."
            if result.ok
            else f"Not delivered: {result.error or 'failed'}."
        )
        tested = TestOutcome(channel.id, channel.name, ok=result.ok, message=message)
    if form.get("from") == "channel":
        return await _detail_page(page, channel, tested=tested, status=status, headers=headers)
    return await _list_page(page, tested=tested, status=status, headers=headers)


@router.get("/channels/{channel_id}/delete")
async def confirm_delete(page: UserPage, channel_id: str) -> Response:
    """Ask before deleting a channel."""
    channel = await owned_channel(page, channel_id)
    return page.render("channel_delete.html", channel=_view(page, channel))


@router.post("/channels/{channel_id}/delete")
async def delete_channel(page: UserPage, channel_id: str) -> Response:
    """Delete the channel (after the confirmation form); websites stop notifying it."""
    channel = await owned_channel(page, channel_id)
    await page.form()
    await channels.delete_channel(page.db, channel)
    return page.redirect("/channels")
