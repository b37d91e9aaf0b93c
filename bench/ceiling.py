"""The ceiling a worker is compared against: a bare aiohttp GET loop, nothing else."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def bare_aiohttp_rate(url: str, *, concurrency: int, seconds: float) -> float:
    """Return GETs per second of a bare loop: fresh connection per request, bounded in flight."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True, ttl_dns_cache=300)
    done = 0
    stop_at = time.perf_counter() + seconds

    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed


def main() -> None:
    """Print the bare loop's rate: `python -m bench.ceiling URL CONCURRENCY SECONDS`."""
    import sys

    import uvloop

    url, concurrency, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rate = uvloop.run(bare_aiohttp_rate(url, concurrency=concurrency, seconds=seconds))
    print(f"{rate:.1f}")


if __name__ == "__main__":
    main()
