"""The ceiling of the ping benchmark: a bare ASGI app under uvicorn, set up as the API is.

Same server, loop and HTTP parser as `betteruptime api` (uvicorn, uvloop, httptools, no
access log), one process, answering every request with 200 "OK" and nothing else: what
one API process could answer on this machine if a request cost nothing.
Run: `python -m bench.bare_asgi PORT`.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"3")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer 200 "OK" to any HTTP request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"OK\n"})


def main() -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
