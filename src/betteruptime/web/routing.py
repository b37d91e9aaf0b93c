"""How pages are routed at paths shared with the JSON API (HEAD: see betteruptime.routes)."""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.routing import Match
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
