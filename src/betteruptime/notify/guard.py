"""The SSRF guard for notification sends, at the socket: Apprise connects outside aiohttp.

Apprise plugins connect with requests/urllib3, smtplib and others, each from a worker
thread. All of them end in `socket.socket.connect` with a resolved address, so that is
where the policy is enforced: `guarded(policy)` sets a context variable that Apprise
copies into its worker threads, and the patched connect refuses a blocked address before
any packet leaves. Code that is not inside `guarded()` (the event loop, database drivers)
connects exactly as before.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from ipaddress import ip_address
from typing import Any

from betteruptime.checks.targets import TargetPolicy


class Guard:
    """A policy in force, and the refusals it made (read by the sender for its error)."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        # Appended from worker threads; list.append is atomic under the GIL.
        self.refused: list[str] = []


_GUARD: ContextVar[Guard | None] = ContextVar("notify_guard", default=None)
_INSTALL_LOCK = threading.Lock()
_installed = False


class BlockedTarget(ConnectionRefusedError):
    """A notification tried to connect to an address the policy refuses."""


def refusal(policy: TargetPolicy, host: str) -> str | None:
    """Return why connecting to the IP address host is refused, or None when allowed."""
    try:
        address = ip_address(host.split("%", 1)[0])
    except ValueError:
        return f"unparsable address {host[:64]!r}"
    return policy.blocked_reason(address)


def _resolved(sock: socket.socket, address: Any, guard: Guard) -> Any:
    """Return the address to connect to, checked; raise BlockedTarget when refused."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return address
    host, port = str(address[0]), address[1]
    try:
        ip_address(host.split("%", 1)[0])
    except ValueError:
        # A name handed straight to connect(): resolve it here and connect to what was
        # checked, so a rebinding name cannot swap the address in between.
        infos = socket.getaddrinfo(host, port, sock.family, socket.SOCK_STREAM)
        if not infos:
            raise BlockedTarget(f"no address for {host[:100]}") from None
        address = infos[0][4]
        host = str(address[0])
    reason = refusal(guard.policy, host)
    if reason is not None:
        message = f"refused to connect to {reason}"
        guard.refused.append(message)
        raise BlockedTarget(message)
    return address


def install() -> None:
    """Patch socket.socket.connect/connect_ex once per process (a no-op outside guarded())."""
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex

        def connect(self: socket.socket, address: Any) -> None:
            guard = _GUARD.get()
            if guard is not None:
                address = _resolved(self, address, guard)
            original_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            guard = _GUARD.get()
            if guard is not None:
                address = _resolved(self, address, guard)
            return original_connect_ex(self, address)

        # setattr: socket.socket is a Python subclass of _socket.socket, and SSLSocket
        # reaches this connect through super(), so TLS connections are covered too.
        setattr(socket.socket, "connect", connect)  # noqa: B010
        setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
        _installed = True


@contextlib.contextmanager
def guarded(policy: TargetPolicy) -> Iterator[Guard]:
    """Enforce policy on every socket connect made in this context and threads it spawns."""
    install()
    guard = Guard(policy)
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)
