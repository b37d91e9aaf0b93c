"""Connection-time enforcement of a TargetPolicy: a filtering resolver and a socket factory."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from betteruptime.checks.errors import BlockedAddressError
from betteruptime.checks.targets import TargetPolicy


class GuardedResolver(AbstractResolver):
    """Resolves through another resolver and drops every answer the policy refuses.

    The connector connects only to what this returns, so the addresses checked here are
    the addresses used: a name that rebinds between some earlier lookup and this one
    gains nothing.
    """

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._owns_inner = inner is None
        self._inner: AbstractResolver = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the allowed answers for host; raise BlockedAddressError when none is."""
        answers = await self._inner.resolve(host, port, family)
        if not answers:
            # aiohttp expects at least one answer or an error.
            raise OSError(0, "no address for host")
        allowed: list[ResolveResult] = []
        first_reason: str | None = None
        for answer in answers:
            reason = _reason_for(self._policy, answer["host"])
            if reason is None:
                allowed.append(answer)
            elif first_reason is None:
                first_reason = reason
        if not allowed and first_reason is not None:
            raise BlockedAddressError(f"{_shorten_host(host)} resolves to {first_reason}")
        return allowed

    async def close(self) -> None:
        """Close the wrapped resolver when this object created it."""
        if self._owns_inner:
            await self._inner.close()


def guarded_socket_factory(
    policy: TargetPolicy,
) -> Callable[[tuple[Any, Any, int, str, tuple[Any, ...]]], socket.socket]:
    """Return a socket factory for TCPConnector that refuses blocked destination addresses.

    The last line of defence: aiohttp skips the resolver for IP-literal hosts, and any
    future path that reaches connect() still has to create its socket here first.
    """

    # Destinations repeat from one check to the next; parsing the address string and
    # walking the range tables once per distinct address keeps connect() cheap.
    @functools.lru_cache(maxsize=4096)
    def reason_for(host: str) -> str | None:
        return _reason_for(policy, host)

    def factory(addr_info: tuple[Any, Any, int, str, tuple[Any, ...]]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        reason = reason_for(str(sockaddr[0]))
        if reason is not None:
            raise BlockedAddressError(reason)
        return socket.socket(family, type_, proto)

    return factory


def _reason_for(policy: TargetPolicy, host: str) -> str | None:
    try:
        address = ip_address(host)
    except ValueError:
        return f"unparsable address {host[:64]!r}"
    return policy.blocked_reason(address)


def _shorten_host(host: str) -> str:
    return host if len(host) <= 100 else host[:99] + "…"
