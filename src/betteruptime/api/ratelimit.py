"""The API's side of the shared rate limits: a dependency counting attempts per address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from betteruptime.ratelimit import Action as Action
from betteruptime.ratelimit import RateLimited as RateLimited
from betteruptime.ratelimit import RateLimits as RateLimits
from betteruptime.ratelimit import client_ip
from betteruptime.ratelimit import make_rate_limits as make_rate_limits
from betteruptime.ratelimit import redis_storage as redis_storage


def limit_per_ip(action: Action) -> Callable[[Request], Awaitable[None]]:
    """Return a dependency counting one `action` attempt for the caller's IP address."""

    async def dependency(request: Request) -> None:
        # Runs before the body is validated, so malformed attempts count too.
        rate_limits: RateLimits = request.app.state.core.rate_limits
        await rate_limits.hit(action, "ip", client_ip(request))

    return dependency
