"""Heartbeat pings: /ping/{key}[/start|/fail|/{exit_status}], no login, the key is the secret."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from betteruptime.api.deps import AppStateDep
from betteruptime.api.errors import responses
from betteruptime.api.state import AppState
from betteruptime.checks.options import HeartbeatOptions, load_options
from betteruptime.db.heartbeats import Ping, PingTarget, PingUpdate
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.heartbeat import Schedule, down_at, parse_schedule
from betteruptime.rules.status import Status

router = APIRouter(tags=["heartbeats"])

MAX_PING_BODY = 10_240
_METHODS = ("GET", "HEAD", "POST")
MAX_KEY_LENGTH = 64
Key = Annotated[str, Path(max_length=MAX_KEY_LENGTH, description="The heartbeat's ping key")]
_OK = "OK\n"


@functools.lru_cache(maxsize=8192)
def _schedule(options: str | None) -> tuple[Schedule, timedelta]:
    """Return the schedule and grace of stored heartbeat options (parsed once each)."""
    parsed: HeartbeatOptions = load_options(CheckKind.HEARTBEAT, options)
    schedule = parse_schedule(parsed.period_seconds, parsed.cron, parsed.timezone)
    return schedule, timedelta(seconds=parsed.grace_seconds)


async def _record(
    state: AppState, key: str, decide: Callable[[PingTarget], PingUpdate]
) -> PlainTextResponse:
    """Answer 200 once the ping is committed, 404 for an unknown key (nothing written)."""
    # A NUL cannot be in a stored key (nor in a PostgreSQL text): no such heartbeat, and
    # no reason to let it into a batch shared with other pings.
    if "\x00" in key or await state.pings.submit(Ping(key, decide)) is None:
        raise HTTPException(status_code=404, detail="no heartbeat with this ping key")
    return PlainTextResponse(_OK)


async def _body(request: Request) -> str | None:
    if request.method != "POST":
        return None
    raw = await request.body()
    # PostgreSQL text cannot hold NUL: it is kept as the replacement character.
    text = raw[:MAX_PING_BODY].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return text or None


def finished(
    now: datetime, exit_status: int | None, body: str | None
) -> Callable[[PingTarget], PingUpdate]:
    """Return the change a run finished at now makes: exit 0 is UP; 1-255 or None DOWN."""
    error = None
    if exit_status is None:
        error = "heartbeat: failure reported"
    elif exit_status:
        error = f"heartbeat: exit status {exit_status}"

    def decide(target: PingTarget) -> PingUpdate:
        schedule, grace = _schedule(target.options)
        start = target.started_at
        run_ms = None
        if start is not None and (target.last_ping_at is None or start > target.last_ping_at):
            run_ms = round((now - start).total_seconds() * 1000)
        return PingUpdate(
            down_at=down_at(schedule, grace, now, None),
            started_at=None,
            finished=True,
            last_ping_at=now,
            exit_status=exit_status,
            run_ms=run_ms,
            body=body,
            # A disabled heartbeat keeps its state but records no result.
            tick_status=(Status.DOWN if error else Status.UP) if target.enabled else None,
            tick_error=error,
        )

    return decide


def started(now: datetime) -> Callable[[PingTarget], PingUpdate]:
    """Return the change a run started at now makes: it must end within the grace."""

    def decide(target: PingTarget) -> PingUpdate:
        schedule, grace = _schedule(target.options)
        since = target.last_ping_at or target.created_at
        return PingUpdate(
            down_at=down_at(schedule, grace, since, now), started_at=now, finished=False
        )

    return decide


async def _finish(
    state: AppState, request: Request, key: str, exit_status: int | None
) -> PlainTextResponse:
    """Record a finished run."""
    now = datetime.now(UTC)
    return await _record(state, key, finished(now, exit_status, await _body(request)))


async def _start(state: AppState, key: str) -> PlainTextResponse:
    """Record that a run started."""
    return await _record(state, key, started(datetime.now(UTC)))


async def ping(key: Key, request: Request, state: AppStateDep) -> PlainTextResponse:
    """Report a successful run (POST a body of up to 10 kB to keep it)."""
    return await _finish(state, request, key, 0)


async def ping_start(key: Key, state: AppStateDep) -> PlainTextResponse:
    """Report that a run started: it must finish within the grace period."""
    return await _start(state, key)


async def ping_fail(key: Key, request: Request, state: AppStateDep) -> PlainTextResponse:
    """Report a failed run: the heartbeat is DOWN until the next success."""
    return await _finish(state, request, key, None)


async def ping_exit_status(
    key: Key,
    exit_status: Annotated[int, Path(ge=0, le=255, description="0 is success, 1-255 failure")],
    request: Request,
    state: AppStateDep,
) -> PlainTextResponse:
    """Report a finished run by its exit status."""
    return await _finish(state, request, key, exit_status)


class PingRoute(Route):
    """The serving route of a ping URL: Starlette's, without FastAPI's per-request work.

    A ping is the one request machines send by the thousand, and FastAPI's dependency
    solving and parameter validation cost 0.2 ms of CPU a ping here, as much as the
    rest of the ping. This route claims only a request whose key and exit status are
    valid; any other falls through to the FastAPI route of the same path (documented in
    OpenAPI), which answers it with the API's usual 422. Both end in the same functions.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        params = child["path_params"]
        if len(params["key"]) > MAX_KEY_LENGTH or params.get("exit_status", 0) > 255:
            return Match.NONE, {}
        # What the metrics label the request with, as for FastAPI's routes.
        child["route"] = self
        return match, child


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.core
    return state


async def _serve_ping(request: Request) -> Response:
    return await _finish(_state(request), request, request.path_params["key"], 0)


async def _serve_start(request: Request) -> Response:
    return await _start(_state(request), request.path_params["key"])


async def _serve_fail(request: Request) -> Response:
    return await _finish(_state(request), request, request.path_params["key"], None)


async def _serve_exit_status(request: Request) -> Response:
    params = request.path_params
    return await _finish(_state(request), request, params["key"], params["exit_status"])


# Added to the app before every other route (see app.py).
serving_routes = [
    PingRoute("/ping/{key}", _serve_ping, methods=list(_METHODS)),
    PingRoute("/ping/{key}/start", _serve_start, methods=list(_METHODS)),
    PingRoute("/ping/{key}/fail", _serve_fail, methods=list(_METHODS)),
    PingRoute("/ping/{key}/{exit_status:int}", _serve_exit_status, methods=list(_METHODS)),
]


def _add(path: str, endpoint: Callable[..., Any], *codes: int) -> None:
    # One route per method: a route with several methods is one operation id for all of
    # them in OpenAPI (FastAPI warns "Duplicate Operation ID"); this way each is its own,
    # e.g. ping_get, ping_head, ping_post.
    for method in _METHODS:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            operation_id=f"{endpoint.__name__}_{method.lower()}",
            responses=responses(*codes),
        )


_add("/ping/{key}", ping, 404, 413, 422)
_add("/ping/{key}/start", ping_start, 404, 422)
_add("/ping/{key}/fail", ping_fail, 404, 413, 422)
_add("/ping/{key}/{exit_status}", ping_exit_status, 404, 413, 422)
