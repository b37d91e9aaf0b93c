"""The typed object the API keeps on `app.state.core`."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from betteruptime.api.batching import GroupCommit
from betteruptime.api.metrics import ApiMetrics
from betteruptime.config import Settings
from betteruptime.db.heartbeats import Ping, PingUpdate
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender
from betteruptime.ratelimit import RateLimits


@dataclass(frozen=True)
class AppState:
    """What request handlers need, opened once by the lifespan."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    jwt_secret: str
    redis: aioredis.Redis | None
    rate_limits: RateLimits
    metrics: ApiMetrics
    cipher: ChannelCipher
    sender: Sender
    # Heartbeat pings are written in groups: one transaction per batch (see api/batching).
    pings: GroupCommit[Ping, PingUpdate | None]
