"""Guarded TCP connections for kinds that do not speak HTTP: resolve, judge, connect."""

from __future__ import annotations

import asyncio
import socket
import ssl

from betteruptime.checks.errors import BlockedAddressError
from betteruptime.checks.targets import TargetPolicy, host_blocked, parse_ip_literal


async def guarded_connect(
    host: str,
    port: int,
    policy: TargetPolicy,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Return streams connected to the first allowed address of host; raise OSError.

    The addresses are resolved here and judged one by one, and the socket connects to
    exactly the judged address, so a name that rebinds between lookups gains nothing.
    """
    loop = asyncio.get_running_loop()
    literal = parse_ip_literal(host)
    candidates: list[tuple[int, str]]
    if literal is not None:
        reason = policy.blocked_reason(literal)
        if reason is not None:
            raise BlockedAddressError(reason)
        candidates = [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
    else:
        reason = host_blocked(host, policy)
        if reason is not None:
            raise BlockedAddressError(reason)
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(exc.errno, "dns: name not resolved") from None
        candidates = []
        first_reason: str | None = None
        for info in infos:
            text = str(info[4][0])
            parsed = parse_ip_literal(text)
            why = policy.blocked_reason(parsed) if parsed is not None else "unparsable address"
            if why is None:
                candidates.append((info[0], text))
            elif first_reason is None:
                first_reason = why
        if not candidates:
            raise BlockedAddressError(f"host resolves to {first_reason or 'no address'}")
    last: OSError | None = None
    for family, address in candidates:  # in the resolver's order
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (address, port))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(
            sock=sock,
            ssl=ssl_context,
            server_hostname=(server_hostname if ssl_context is not None else None),
        )
    assert last is not None
    raise last
