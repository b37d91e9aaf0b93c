"""The whole alerting path at real speed, for the detection and storm benchmarks.

A switchable loopback target (each website its own path, UP until switched DOWN), a
loopback webhook receiver, and real `betteruptime pusher`, `worker` and `alerter`
processes. Every website notifies one json:// channel of its owner pointing at the
receiver; a notification is matched to its website by the URL in its title.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from cryptography.fernet import Fernet

from bench import pipeline
from bench.env import BETTERUPTIME, Backends
from bench.fill import add_users, add_websites
from bench.procs import Proc, Procs, wait_for_metrics
from bench.target import free_port
from betteruptime.notify.crypto import ChannelCipher

REGION = "bench"
_SITE = re.compile(r"/w/(\d+)\b")


@dataclass
class Switchboard:
    """The target's DOWN set and every notification received, with wall-clock times."""

    target_port: int = 0
    receiver_port: int = 0
    down: set[int] = field(default_factory=set)
    down_at: dict[int, float] = field(default_factory=dict)
    # website index -> times its DOWN notifications arrived
    received: dict[int, list[float]] = field(default_factory=dict)
    other_titles: list[str] = field(default_factory=list)

    @property
    def target_base(self) -> str:
        return f"http://127.0.0.1:{self.target_port}"

    def switch_down(self, index: int) -> None:
        """Make a website answer 503 from now on, remembering when."""
        self.down.add(index)
        self.down_at[index] = time.time()

    def delivered(self) -> int:
        """Return how many websites got at least one DOWN notification."""
        return len(self.received)


@asynccontextmanager
async def switchboard() -> AsyncIterator[Switchboard]:
    """Serve the switchable target and the webhook receiver on loopback."""
    board = Switchboard(target_port=free_port(), receiver_port=free_port())

    async def target(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        if index in board.down:
            return web.Response(status=503, text="down")
        return web.Response(text="ok")

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        title = str(body.get("title", ""))
        found = _SITE.search(title)
        if title.startswith("DOWN") and found:
            board.received.setdefault(int(found.group(1)), []).append(time.time())
        else:
            board.other_titles.append(title)
        return web.Response(text="ok")

    runners = []
    for port, route, handler in (
        (board.target_port, "/w/{index}", target),
        (board.receiver_port, "/hook", hook),
    ):
        app = web.Application()
        app.router.add_route("*", route, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
        runners.append(runner)
    try:
        yield board
    finally:
        for runner in runners:
            await runner.cleanup()


async def fill(b: Backends, board: Switchboard, websites: int, interval: int, key: str) -> datetime:
    """Insert websites spread over one interval from a parked moment, one channel per
    owner, all linked; return that moment (start moves the schedule once all run)."""
    parked_due = datetime.now(UTC) + pipeline.PARKED_AHEAD
    conn = await b.pg()
    try:
        owners = await add_users(conn, max(1, websites // 100))
        await add_websites(
            conn,
            owners,
            board.target_base,
            websites,
            interval=interval,
            timeout=min(5, interval),
            first_due=parked_due,
            spread_seconds=interval,
        )
        cipher = ChannelCipher([key])
        url = f"json://127.0.0.1:{board.receiver_port}/hook"
        await conn.executemany(
            "INSERT INTO channel (id, owner_id, name, url_encrypted, scheme, created_at) "
            "VALUES (gen_random_uuid(), $1, 'bench', $2, 'json', now())",
            [(owner, cipher.encrypt(url)) for owner in owners],
        )
        await conn.execute(
            "INSERT INTO website_channel (website_id, channel_id) "
            "SELECT w.id, c.id FROM website w JOIN channel c ON c.owner_id = w.owner_id"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return parked_due


def new_key() -> str:
    """Return a fresh CHANNEL_KEY."""
    return Fernet.generate_key().decode()


async def start(
    b: Backends,
    procs: Procs,
    key: str,
    parked_due: datetime,
    *,
    recheck_seconds: float,
    min_interval: int,
) -> list[Proc]:
    """Start a pusher, one worker and one alerter configured as in production; return them
    once all serve their metrics and the websites fall due 2 s later.

    The websites wait parked (see fill) until then: on a loaded machine the processes may
    take tens of seconds to start, and websites found overdue would be rescheduled in one
    burst, their first jobs stale before the worker reads them (see bench/pipeline.py).
    """
    common = {"min_interval_seconds": min_interval, "recheck_seconds": recheck_seconds}
    ports = [free_port() for _ in range(3)]
    started = [
        procs.start(
            "pusher", [BETTERUPTIME, "pusher"], b.component_env(metrics_port=ports[0], **common)
        ),
        procs.start(
            "worker",
            [BETTERUPTIME, "worker"],
            b.component_env(
                region_id=REGION, worker_id="bench-w0", metrics_port=ports[1], **common
            ),
        ),
        procs.start(
            "alerter",
            [BETTERUPTIME, "alerter"],
            b.component_env(
                channel_key=key,
                public_url="http://127.0.0.1:8080",
                metrics_port=ports[2],
                **common,
            ),
        ),
    ]
    for port in ports:
        await wait_for_metrics(port, pipeline.START_TIMEOUT_SECONDS)
    await pipeline.unpark(b, parked_due)
    return started


async def wait_all_checked(b: Backends, procs: Procs, websites: int, timeout: float) -> None:
    """Wait until every website has a result from the region (quorum needs fresh ones)."""
    deadline = time.monotonic() + timeout
    conn = await b.pg()
    try:
        while time.monotonic() < deadline:
            procs.sample()
            if await conn.fetchval("SELECT count(*) FROM website_status") >= websites:
                return
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise RuntimeError(f"not every website was checked within {timeout:.0f} s")


async def wait_delivered(board: Switchboard, procs: Procs, expected: int, timeout: float) -> None:
    """Wait until expected websites got their DOWN notification, or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and board.delivered() < expected:
        procs.sample()
        await asyncio.sleep(0.2)


async def detected_at(b: Backends) -> dict[int, float]:
    """Return when each website's incident was detected (epoch seconds), by website index."""
    conn = await b.pg()
    try:
        rows = await conn.fetch(
            "SELECT w.url, extract(epoch FROM i.detected_at)::float8 AS t "
            "FROM incident i JOIN website w ON w.id = i.website_id"
        )
    finally:
        await conn.close()
    found = {}
    for row in rows:
        match = _SITE.search(row["url"])
        if match:
            found[int(match.group(1))] = float(row["t"])
    return found


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
