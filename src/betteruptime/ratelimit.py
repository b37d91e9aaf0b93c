"""Rate limits shared by the API and the pages: logins, registrations and test sends."""

from __future__ import annotations

import math
import time
from typing import Literal

import limits
import redis.asyncio as aioredis
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.requests import Request

from betteruptime.config import Settings
from betteruptime.log import get_logger

log = get_logger(__name__)

Action = Literal["login", "register", "channel_test"]
KEY_PREFIX = "betteruptime:ratelimit"
# Requests without a peer address (an in-process ASGI client) share one bucket.
UNKNOWN_CLIENT = "unknown"


class RateLimited(Exception):
    """Past a limit: the caller may try again in `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry in {retry_after} seconds")
        self.retry_after = retry_after


class RateLimits:
    """Moving-window limits for each action, kept in Redis or in this process's memory."""

    def __init__(self, storage: Storage, rules: dict[Action, list[limits.RateLimitItem]]) -> None:
        # A moving window, not a fixed one: a fixed window lets a burst of twice the limit
        # through across a window boundary.
        self._limiter = MovingWindowRateLimiter(storage)
        self._rules = rules
        self.storage = storage

    async def hit(self, action: Action, kind: str, value: str) -> None:
        """Count one attempt under (action, kind, value); raise RateLimited past a limit."""
        for item in self._rules[action]:
            try:
                if await self._limiter.hit(item, action, kind, value):
                    continue
                stats = await self._limiter.get_window_stats(item, action, kind, value)
            except StorageError as exc:
                # Fail open: with Redis down, login still needs the right password, and
                # argon2 keeps each guess expensive. Refusing every login would turn a
                # Redis outage into a full outage of the API. Test sends stay bounded by
                # the sender's concurrency.
                cause = type(exc.storage_error).__name__
                log.warning("rate limit storage unavailable", error=cause)
                return
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(retry_after)


def make_rate_limits(settings: Settings, redis: aioredis.Redis | None) -> RateLimits:
    """Return limits from the settings, in Redis (sharing the app's pool) when configured."""
    rules: dict[Action, list[limits.RateLimitItem]] = {
        "login": limits.parse_many(settings.login_rate_limit),
        "register": limits.parse_many(settings.register_rate_limit),
        "channel_test": limits.parse_many(settings.channel_test_rate_limit),
    }
    storage: Storage = MemoryStorage() if redis is None else redis_storage(redis)
    return RateLimits(storage, rules)


def redis_storage(redis: aioredis.Redis, key_prefix: str = KEY_PREFIX) -> RedisStorage:
    """Return a limits storage on redis-py that uses the given client's connection pool."""
    # limits defaults to coredis; redis-py is the client the rest of the project uses, and
    # sharing its pool means one set of connections and one place that closes them.
    return RedisStorage(
        "async+redis://",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=key_prefix,
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
    )


def client_ip(request: Request) -> str:
    """Return the peer address of the request (the proxy's, unless uvicorn trusts it)."""
    # Deliberately not X-Forwarded-For: any client can send that header. Behind a reverse
    # proxy, uvicorn's --forwarded-allow-ips/--proxy-headers (FORWARDED_ALLOW_IPS) rewrite
    # request.client from the proxy's headers only when the proxy is trusted.
    return request.client.host if request.client else UNKNOWN_CLIENT
