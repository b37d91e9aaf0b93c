"""Routers added to the app as plain routes, so matching a request costs one regex per route."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def add_routes(app: FastAPI, router: APIRouter, *, in_schema: bool = True) -> None:
    """Append the router's routes to the app's own route list, in order."""
    # FastAPI's include_router keeps the router as one nested node, and on every request
    # each node re-walks its routes' versions and swaps scope keys around each match:
    # with 19 routers, a path matched near the end (or a 404) cost about 1 ms of CPU before
    # any handler ran, against 0.5 ms with the same routes flat. The routes are created by
    # their router with its tags and prefix already applied, so they work the same here.
    # Only routers without their own dependencies come through here.
    assert not router.dependencies, "router-level dependencies need include_router"
    for route in router.routes:
        if not in_schema and isinstance(route, APIRoute):
            route.include_in_schema = False
        app.router.routes.append(route)
