"""A loopback HTTP target that waits before answering, so checks stay in flight.

nginx cannot hold a request without a module or upstream, so this small aiohttp server
is used for the memory benchmark, where only the number of open checks matters, not
the target's speed. Run: `python -m bench.slow_target PORT DELAY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


def main() -> None:
    """Serve 200 after DELAY_SECONDS on every path until killed."""
    port, delay = int(sys.argv[1]), float(sys.argv[2])

    async def handle(_request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    # A large backlog: thousands of checks connect within a few milliseconds.
    web.run_app(app, host="127.0.0.1", port=port, backlog=8192, access_log=None, print=None)


if __name__ == "__main__":
    main()
