"""Heartbeats: pings recorded by key, and silences found by the late loop."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.models import Heartbeat

# Heartbeat results are stored as ticks of this region: pushed, not probed from anywhere.
HEARTBEAT_REGION = "push"


async def last_ping_at(session: AsyncSession, website_id: uuid.UUID) -> datetime | None:
    """Return when the heartbeat last reported success, or None."""
    return await session.scalar(
        select(Heartbeat.last_ping_at).where(Heartbeat.website_id == website_id)
    )
