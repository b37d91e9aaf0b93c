"""How pages are routed: paths shared with the JSON API, and HEAD answered like GET."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


class BrowserRoute(APIRoute):
    """A page at a path the JSON API also serves: it answers browsers only."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE or not wants_html(scope):
            return Match.NONE, {}
        return match, child


def wants_html(scope: Scope) -> bool:
    """Return True for a browser's request: it accepts HTML and sends no bearer token."""
    headers = dict(scope.get("headers") or [])
    if b"authorization" in headers:
        return False
    return b"text/html" in headers.get(b"accept", b"")


def answer_head(routes: Iterable[BaseRoute]) -> None:
    """Let every GET page among routes answer HEAD too (FastAPI routes answer 405 to it)."""
    # Starlette's own Route adds HEAD beside GET; FastAPI's APIRoute does not. The handler
    # runs as for GET (same status, headers and Content-Length), and the server sends no
    # body: uvicorn drops a HEAD answer's body itself, as Starlette's FileResponse expects.
    for route in routes:
        if isinstance(route, APIRoute) and route.methods and "GET" in route.methods:
            route.methods.add("HEAD")
