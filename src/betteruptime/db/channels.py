"""Channels and which websites notify them: the queries the API needs."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import Channel, WebsiteChannel


async def owned_channel_ids(
    session: AsyncSession, owner_id: uuid.UUID, ids: Collection[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Return the owner's channel ids (all, or those among ids), oldest first."""
    query = select(Channel.id).where(Channel.owner_id == owner_id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(Channel.id.in_(list(ids)))
    return list(await session.scalars(query.order_by(Channel.created_at, Channel.id)))


async def set_website_channels(
    session: AsyncSession, website_id: uuid.UUID, channel_ids: Iterable[uuid.UUID]
) -> None:
    """Make exactly channel_ids the channels the website notifies (caller commits)."""
    await session.execute(delete(WebsiteChannel).where(WebsiteChannel.website_id == website_id))
    rows = [{"website_id": website_id, "channel_id": cid} for cid in dict.fromkeys(channel_ids)]
    if rows:
        await session.execute(insert(WebsiteChannel), rows)


async def website_channel_ids(
    session: AsyncSession, website_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Return the channel ids of each website (every id present, sorted), in one query."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {wid: [] for wid in website_ids}
    if not website_ids:
        return found
    rows = await session.execute(
        select(WebsiteChannel.website_id, WebsiteChannel.channel_id)
        .where(WebsiteChannel.website_id.in_(list(website_ids)))
        .order_by(WebsiteChannel.website_id, WebsiteChannel.channel_id)
    )
    for website_id, channel_id in rows:
        found[website_id].append(channel_id)
    return found


async def get_owned_channel(
    session: AsyncSession, owner_id: uuid.UUID, channel_id: uuid.UUID
) -> Channel | None:
    """Return the channel when owner_id owns it, else None (missing and foreign look alike)."""
    return await session.scalar(
        select(Channel).where(Channel.id == channel_id, Channel.owner_id == owner_id)
    )


async def list_owned_channels(session: AsyncSession, owner_id: uuid.UUID) -> list[Channel]:
    """Return the owner's channels, oldest first."""
    rows = await session.scalars(
        select(Channel).where(Channel.owner_id == owner_id).order_by(Channel.created_at, Channel.id)
    )
    return list(rows)


async def count_owned_channels(session: AsyncSession, owner_id: uuid.UUID) -> int:
    """Return how many channels the owner has."""
    return int(await session.scalar(select(func.count()).where(Channel.owner_id == owner_id)) or 0)


async def add_channel(
    session: AsyncSession, owner_id: uuid.UUID, name: str, url_encrypted: str, scheme: str
) -> Channel:
    """Insert and commit a channel; return it."""
    channel = Channel(
        id=uuid.uuid4(), owner_id=owner_id, name=name, url_encrypted=url_encrypted, scheme=scheme
    )
    session.add(channel)
    await session.commit()
    return channel


async def delete_channel(session: AsyncSession, channel: Channel) -> None:
    """Delete the channel (websites stop notifying it; its deliveries go too); commit."""
    await session.delete(channel)
    await session.commit()
