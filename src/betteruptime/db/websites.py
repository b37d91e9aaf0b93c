"""Website queries of one owner: the API's routes and the pages to come share them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import EllipsisType

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.channels import set_website_channels
from betteruptime.db.models import Heartbeat, User, Website
from betteruptime.db.ticks import delete_website_ticks
from betteruptime.rules.checks import CheckKind


class DuplicateUrl(Exception):
    """The owner already monitors this URL."""


class WebsiteLimitReached(Exception):
    """The owner has as many websites as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} websites per user")
        self.limit = limit


async def get_owned(
    session: AsyncSession, website_id: uuid.UUID, owner_id: uuid.UUID
) -> Website | None:
    """Return the website when owner_id owns it, else None (whether or not it exists)."""
    # The owner is part of the lookup, so another user's website and a missing one are
    # indistinguishable to every caller.
    return await session.scalar(
        select(Website).where(Website.id == website_id, Website.owner_id == owner_id)
    )


async def count_owned(session: AsyncSession, owner_id: uuid.UUID) -> int:
    """Return how many websites owner_id has."""
    count = await session.scalar(select(func.count()).where(Website.owner_id == owner_id))
    return count or 0


async def list_owned(
    session: AsyncSession, owner_id: uuid.UUID, limit: int, offset: int
) -> list[Website]:
    """Return one page of owner_id's websites, oldest first (ties broken by id)."""
    rows = await session.scalars(
        select(Website)
        .where(Website.owner_id == owner_id)
        .order_by(Website.created_at, Website.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def create_website(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    kind: CheckKind,
    url: str,
    name: str | None,
    interval_seconds: int,
    timeout_seconds: int,
    enabled: bool,
    max_websites: int,
    now: datetime,
    options: str | None = None,
    ping_key: str | None = None,
    heartbeat_down_at: datetime | None = None,
    thresholds: Mapping[str, int | None] | None = None,
    channel_ids: Sequence[uuid.UUID] = (),
) -> Website:
    """Insert and commit a website due at once; raise WebsiteLimitReached or DuplicateUrl.

    channel_ids are the (already checked) channels it notifies.
    """
    await _lock_owner(session, owner_id)
    # Counted after the lock: a concurrent create by the same user waits for our commit,
    # then counts our row too, so the cap is never overshot.
    if await count_owned(session, owner_id) >= max_websites:
        await session.rollback()
        raise WebsiteLimitReached(max_websites)
    if await _owner_has_url(session, owner_id, url):
        await session.rollback()
        raise DuplicateUrl(url)
    website = Website(
        id=uuid.uuid4(),
        owner_id=owner_id,
        kind=kind,
        url=url,
        options=options,
        ping_key=ping_key,
        name=name,
        interval_seconds=interval_seconds,
        timeout_seconds=timeout_seconds,
        enabled=enabled,
        next_check_at=now,
        **dict(thresholds or {}),
    )
    session.add(website)
    if heartbeat_down_at is not None:
        # Flushed in order: the heartbeat row's foreign key needs the website first.
        await session.flush()
        session.add(Heartbeat(website_id=website.id, down_at=heartbeat_down_at, late=False))
    await _commit_or_duplicate(session, url, website.id, channel_ids)
    return website


async def update_website(
    session: AsyncSession,
    website: Website,
    *,
    url: str,
    name: str | None,
    interval_seconds: int,
    timeout_seconds: int,
    enabled: bool,
    now: datetime,
    options: str | EllipsisType | None = ...,
    heartbeat_down_at: datetime | None = None,
    thresholds: Mapping[str, int | None] | None = None,
    channel_ids: Sequence[uuid.UUID] | None = None,
) -> Website:
    """Store the website's new values and commit; raise DuplicateUrl for a taken URL.

    thresholds holds only the incident thresholds to change (None: back to the default);
    channel_ids, when given, become exactly the (already checked) channels it notifies.
    options: the new stored options, or ... to keep them.
    """
    if url != website.url and await _owner_has_url(session, website.owner_id, url):
        raise DuplicateUrl(url)
    if heartbeat_down_at is not None:
        # A new schedule judges the current silence afresh.
        await session.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id == website.id)
            .values(down_at=heartbeat_down_at, late=False)
        )
    changed_check = url != website.url
    if not isinstance(options, EllipsisType):
        changed_check = changed_check or options != website.options
        website.options = options
    if changed_check or (enabled and not website.enabled):
        # A new target, or monitoring switched back on: check it now, not an interval later.
        website.next_check_at = now
    elif interval_seconds != website.interval_seconds:
        # A shorter interval brings the next check forward; a longer one never delays a
        # check that was already due sooner.
        website.next_check_at = min(
            website.next_check_at, now + timedelta(seconds=interval_seconds)
        )
    website.url = url
    website.name = name
    website.interval_seconds = interval_seconds
    website.timeout_seconds = timeout_seconds
    website.enabled = enabled
    for field_name, value in (thresholds or {}).items():
        setattr(website, field_name, value)
    await _commit_or_duplicate(session, url, website.id, channel_ids)
    return website


async def delete_website(session: AsyncSession, website: Website) -> None:
    """Delete the website, its status rows (by cascade) and its ticks; commit."""
    # The website row first: its row lock makes concurrent tick writers either finish
    # before the tick delete below runs or find no website (see db.ticks._PG_WRITE).
    await session.delete(website)
    await session.flush()
    await delete_website_ticks(session, website.ref)
    await session.commit()


async def _lock_owner(session: AsyncSession, owner_id: uuid.UUID) -> None:
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


async def _owner_has_url(session: AsyncSession, owner_id: uuid.UUID, url: str) -> bool:
    found = await session.scalar(
        select(Website.id).where(Website.owner_id == owner_id, Website.url == url)
    )
    return found is not None


async def _commit_or_duplicate(
    session: AsyncSession,
    url: str,
    website_id: uuid.UUID | None = None,
    channel_ids: Sequence[uuid.UUID] | None = None,
) -> None:
    try:
        if website_id is not None and channel_ids is not None:
            # Its statements flush the pending website first: the same conflict can hit
            # here as at the commit.
            await set_website_channels(session, website_id, channel_ids)
        await session.commit()
    except IntegrityError:
        # The (owner, url) key caught a concurrent request that won the race.
        await session.rollback()
        raise DuplicateUrl(url) from None
