"""The API as a process, tokens for its users, and a closed-loop load generator."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable

import aiohttp

from bench.env import BETTERUPTIME, JWT_SECRET, Backends
from bench.procs import Proc, Procs
from bench.target import free_port
from betteruptime.auth.tokens import issue_token


def start_api(b: Backends, procs: Procs) -> tuple[Proc, str]:
    """Start `betteruptime api` on a free loopback port; return it and its base URL."""
    port = free_port()
    proc = procs.start(
        "api",
        [BETTERUPTIME, "api", "--host", "127.0.0.1", "--port", str(port)],
        b.component_env(),
    )
    return proc, f"http://127.0.0.1:{port}"


async def wait_ready(base_url: str, procs: Procs, timeout: float = 30.0) -> None:
    """Wait until the API answers /healthz with 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            procs.sample()
            try:
                async with session.get(f"{base_url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not become healthy")
            await asyncio.sleep(0.1)


def token_for(user_id: uuid.UUID) -> str:
    """Return a bearer token the benchmark API accepts for the user."""
    return issue_token(user_id, JWT_SECRET, 86_400)


Request = tuple[str, dict[str, str]]


async def latencies(
    requests: Callable[[], Request], *, concurrency: int, seconds: float
) -> list[float]:
    """Return the latency of every request made by concurrency closed loops for seconds.

    Each loop sends its next request when the previous one is answered (keep-alive, as a
    browser or dashboard would); a non-200 answer fails the benchmark.
    """
    found: list[float] = []
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            while time.perf_counter() < stop_at:
                url, headers = requests()
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"GET {url} answered {response.status}")
                found.append(time.perf_counter() - started)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return found


def round_robin(items: list[Request]) -> Callable[[], Request]:
    """Return a function that hands out items in turn, forever."""
    cycle = itertools.cycle(items)
    return lambda: next(cycle)


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of values by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]
