"""Real local servers and test resolvers for the checker tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@dataclass
class RecordingServer:
    """A raw TCP server that records every accepted connection and answers 200."""

    host: str
    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> RecordingServer:
        """Listen on host:port (0 picks a free port) and return self."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self.connections.append((peer[0], peer[1]))
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            self.requests.append(head)
            writer.write(OK_RESPONSE)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class RawServer:
    """A TCP server whose every connection is handled by the given coroutine."""

    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    host: str = "127.0.0.1"
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> RawServer:
        """Listen on a free port and return self."""
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            await self.handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            # Handlers still writing (endless bodies) fail once their transport is gone.
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()


async def start_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    """Start an aiohttp application and return its runner (port in runner.addresses)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    return runner


def app_port(runner: web.AppRunner) -> int:
    """Return the port a started runner listens on."""
    address = runner.addresses[0]
    return int(address[1])


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _answer(hostname: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=hostname,
        host=address,
        port=port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST,
    )


class StaticResolver(AbstractResolver):
    """Answers each name with fixed addresses; unknown names fail like NXDOMAIN."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the configured addresses for host."""
        self.calls.append(host)
        if host not in self.names:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [_answer(host, address, port) for address in self.names[host]]

    async def close(self) -> None:
        """Nothing to release."""


class RebindingResolver(AbstractResolver):
    """Answers the first lookup with one address and every later lookup with another."""

    def __init__(self, first: str, then: str) -> None:
        self.first = first
        self.then = then
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the first address once, then the other one."""
        self.calls += 1
        address = self.first if self.calls == 1 else self.then
        return [_answer(host, address, port)]

    async def close(self) -> None:
        """Nothing to release."""
