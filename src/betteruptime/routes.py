"""Routers added to the app as plain routes, so matching a request costs one regex per route."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


def add_routes(app: FastAPI, router: APIRouter, *, in_schema: bool = True) -> None:
    """Append the router's routes to the app's own route list, in order; GET ones answer HEAD."""
    # FastAPI's include_router keeps the router as one nested node, and on every request
    # each node re-walks its routes' versions and swaps scope keys around each match:
    # with 19 routers, a path matched near the end (or a 404) cost about 1 ms of CPU before
    # any handler ran, against 0.5 ms with the same routes flat. The routes are created by
    # their router with its tags and prefix already applied, so they work the same here.
    # Only routers without their own dependencies come through here.
    assert not router.dependencies, "router-level dependencies need include_router"
    for route in router.routes:
        if isinstance(route, APIRoute):
            if not in_schema:
                route.include_in_schema = False
            answer_head(route)
        app.router.routes.append(route)


def answer_head(route: APIRoute) -> None:
    """Let a GET route answer HEAD too (FastAPI's routes answer 405 to it)."""
    # Starlette's own Route adds HEAD beside GET; FastAPI's APIRoute does not. The handler
    # runs as for GET (same status, headers and Content-Length), and the server sends no
    # body: uvicorn drops a HEAD answer's body itself, as Starlette's FileResponse expects.
    # Every route of the API and the pages comes through add_routes, so none is forgotten.
    if route.methods and "GET" in route.methods:
        route.methods.add("HEAD")


def documented(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """Return the routes as OpenAPI should list them: the HEAD beside each GET left out."""
    # Listed, the HEAD of a GET would be a second operation with the GET's operation id
    # (FastAPI warns "Duplicate Operation ID"). Heartbeat pings declare their HEAD as a
    # route of its own, with its own id: that one stays.
    listed: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, APIRoute) and route.methods and {"GET", "HEAD"} <= route.methods:
            methods = route.methods - {"HEAD"}
            route = copy.copy(route)
            route.methods = methods
        listed.append(route)
    return listed
