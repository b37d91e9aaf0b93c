"""Real local receivers for notification tests: an HTTP webhook server and an SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.pipeline.helpers import free_port


@dataclass
class Received:
    """One request a webhook receiver answered."""

    path: str
    content_type: str
    body: str
    form: dict[str, str]
    json: Any


@dataclass
class Webhooks:
    """A loopback HTTP server recording every request; answers with `status` (default 200).

    `hold` makes every request wait until it is set, to catch a sender mid-send.
    """

    port: int
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    hold: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        """Return the Apprise URL of a path on this receiver."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        """Return the requests received on a path."""
        return [r for r in self.requests if r.path == path]


@asynccontextmanager
async def webhooks() -> AsyncIterator[Webhooks]:
    """Serve a recording webhook receiver on a free loopback port."""
    hooks = Webhooks(port=free_port())

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        form: dict[str, str] = {}
        parsed: Any = None
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: str(v) for k, v in (await request.post()).items()}
        elif request.content_type == "application/json":
            parsed = await request.json()
        if hooks.hold is not None:
            hooks.arrived.set()
            await hooks.hold.wait()
        hooks.requests.append(Received(request.path, request.content_type, body, form, parsed))
        return web.Response(status=hooks.status, text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", hooks.port)
    await site.start()
    try:
        yield hooks
    finally:
        if hooks.hold is not None:
            hooks.hold.set()
        await runner.cleanup()


@dataclass
class Mailbox:
    """A loopback SMTP server keeping every message it accepts."""

    port: int
    messages: list[Message] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Return the decoded plain-text body of every message."""
        found = []
        for message in self.messages:
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    payload = part.get_payload(decode=True)
                    assert isinstance(payload, bytes)
                    found.append(payload.decode())
                    break
        return found

    def url(self, to: str = "ops@example.com") -> str:
        """Return a mailto:// Apprise URL that delivers through this server, unencrypted."""
        return f"mailto://127.0.0.1:{self.port}?from=monitor@example.com&to={to}&mode=insecure"


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.box.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@asynccontextmanager
async def mailbox() -> AsyncIterator[Mailbox]:
    """Run a real SMTP server (aiosmtpd) on a free loopback port."""
    box = Mailbox(port=free_port())
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        auth_require_tls=False,
        auth_required=False,
    )
    await asyncio.to_thread(controller.start)
    try:
        yield box
    finally:
        await asyncio.to_thread(controller.stop)
