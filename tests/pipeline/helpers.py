"""Shared helpers of the pipeline tests: rows in the database, local HTTP targets."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import User, Website
from betteruptime.db.ticks import all_ticks
from betteruptime.queue.base import decode_job
from betteruptime.rules.status import Status
from tests.conftest import unavailable


async def create_user(engine: AsyncEngine) -> uuid.UUID:
    """Return the id of a new user inserted directly."""
    uid = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            insert(User).values(
                id=uid,
                username=f"u{uid.hex[:10]}",
                email=f"{uid.hex[:10]}@example.com",
                password_hash="x",
                tokens_valid_after=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )
    return uid


async def create_websites(
    engine: AsyncEngine,
    owner: uuid.UUID,
    urls: list[str],
    *,
    interval: int = 60,
    timeout: int = 2,
    next_check_at: datetime | None = None,
    enabled: bool = True,
    kind: str = "http",
    options: str | None = None,
) -> list[uuid.UUID]:
    """Return the ids of new websites, due at next_check_at (default now)."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in urls]
    rows = [
        {
            "id": wid,
            "owner_id": owner,
            "url": url,
            "kind": kind,
            "options": options,
            "name": None,
            "interval_seconds": interval,
            "timeout_seconds": timeout,
            "enabled": enabled,
            "created_at": now,
            "next_check_at": next_check_at or now,
        }
        for wid, url in zip(ids, urls, strict=True)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Website), rows)
    return ids


@dataclass(frozen=True)
class StoredTick:
    """A stored tick with ids and texts resolved: what the tests compare."""

    website_id: uuid.UUID
    region_id: str
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    scheduled_at: datetime
    checked_at: datetime

    @property
    def job_key(self) -> tuple[uuid.UUID, datetime]:
        """Return (website id, scheduled time): what identifies the job it answers."""
        return (self.website_id, self.scheduled_at)


async def ticks(engine: AsyncEngine) -> list[StoredTick]:
    """Return every stored tick."""
    async with engine.connect() as conn:
        rows = await all_ticks(conn)
    return [
        StoredTick(
            website_id=website_id,
            region_id=t.region_id,
            status=t.status,
            status_code=t.status_code,
            response_time_ms=t.response_time_ms,
            error=t.error,
            scheduled_at=t.scheduled_at,
            checked_at=t.checked_at,
        )
        for website_id, t in rows
    ]


def job_key(fields: dict[str, str]) -> tuple[uuid.UUID, datetime]:
    """Return (website id, scheduled time) of a stream entry's job, as a tick stores it."""
    job = decode_job(fields)
    return (job.website_id, job.scheduled_at)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Targets:
    """Local HTTP targets and how often each path was requested."""

    base: str
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """Return the URL of a path on the target server."""
        return f"{self.base}{path}"


@asynccontextmanager
async def http_targets(slow_seconds: float = 3.0) -> AsyncIterator[Targets]:
    """Serve /up (200), /down (503), /slow (200 after slow_seconds) and /ok/* on loopback."""
    port = free_port()
    targets = Targets(base=f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        targets.hits[path] = targets.hits.get(path, 0) + 1
        if path == "/down":
            return web.Response(status=503, text="down")
        if path.startswith("/slow"):
            await asyncio.sleep(slow_seconds)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield targets
    finally:
        await runner.cleanup()


def betteruptime_bin() -> str:
    """Return the path of the installed `betteruptime` command of this interpreter."""
    return str(Path(sys.executable).parent / "betteruptime")


def spawn(
    args: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `betteruptime ARGS` with only env (plus PATH and HOME), output to log_path."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [betteruptime_bin(), *args], env={**base, **env}, stdout=out, stderr=out, cwd=cwd
        )


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll predicate until it is true; fail the test with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# How long a spawned process may take to start (imports, first connections): about a
# second on an idle machine, over ten on a starved one. Waiting for it apart from the
# work a test then times keeps a slow start from eating that work's budget.
START_SECONDS = 60.0


async def wait_for_log(
    proc: subprocess.Popen[bytes], log_path: Path, text: str, timeout: float = START_SECONDS
) -> None:
    """Wait until text appears in log_path; fail at once if proc exits, or after timeout."""

    async def logged() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"exited with {proc.returncode} before logging {text}:\n{log_path.read_text()}"
            )
        return log_path.exists() and text in log_path.read_text(errors="replace")

    await wait_for(logged, timeout, f"{text} in {log_path.name}")


async def wait_for_http(
    proc: subprocess.Popen[bytes], log_path: Path, url: str, timeout: float = START_SECONDS
) -> None:
    """Wait until GET url answers 200; fail at once if proc exits, or after timeout."""
    async with httpx.AsyncClient(timeout=5) as client:

        async def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"exited with {proc.returncode} before serving {url}:\n{log_path.read_text()}"
                )
            try:
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(answers, timeout, f"{url} to answer")


async def wait_for_serve(
    proc: subprocess.Popen[bytes], log_path: Path, base_url: str, timeout: float = START_SECONDS
) -> None:
    """Wait until `serve` answers /healthz and its pusher, worker and evaluator started."""
    # The API answers as soon as uvicorn listens; the loops start beside it, and a
    # check a test then times must not wait for them on a starved machine.
    await wait_for_http(proc, log_path, f"{base_url}/healthz", timeout)
    for loop in ("pusher", "worker", "evaluator"):
        await wait_for_log(proc, log_path, f'"{loop} started"', timeout)


async def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """Send SIGTERM, wait for the exit and return its code (SIGKILL after timeout)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return proc.returncode


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self, workdir: Path, *extra_args: str) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return its redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it empty and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server (the binary, to run a private Redis)", FileNotFoundError())
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def kill(self) -> None:
        """Kill it (its data is gone: nothing is saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def stream_entries(client: Any, key: str) -> list[tuple[str, dict[str, str]]]:
    """Return every entry of a stream (client decoding responses) as (id, fields)."""
    entries: Any = await client.xrange(key)
    return [(str(mid), dict(fields)) for mid, fields in entries or []]


async def pending_ids(client: Any, key: str, group: str) -> set[str]:
    """Return the ids the group has delivered and not acknowledged."""
    detail: Any = await client.xpending_range(key, group, "-", "+", 1_000_000)
    return {str(p["message_id"]) for p in detail}
