"""Heartbeat pings: /ping/{key}[/start|/fail|/{exit_status}], no login, the key is the secret."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import PlainTextResponse

from betteruptime.api.deps import AppStateDep
from betteruptime.api.errors import responses
from betteruptime.checks.options import HeartbeatOptions, load_options
from betteruptime.db import heartbeats
from betteruptime.db.heartbeats import PingTarget, PingUpdate
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.heartbeat import Schedule, down_at, parse_schedule
from betteruptime.rules.status import Status

router = APIRouter(tags=["heartbeats"])

MAX_PING_BODY = 10_240
_METHODS = ["GET", "HEAD", "POST"]
Key = Annotated[str, Path(max_length=64, description="The heartbeat's ping key")]
_OK = "OK\n"


@functools.lru_cache(maxsize=8192)
def _schedule(options: str | None) -> tuple[Schedule, timedelta]:
    """Return the schedule and grace of stored heartbeat options (parsed once each)."""
    parsed: HeartbeatOptions = load_options(CheckKind.HEARTBEAT, options)
    schedule = parse_schedule(parsed.period_seconds, parsed.cron, parsed.timezone)
    return schedule, timedelta(seconds=parsed.grace_seconds)


def _not_found() -> HTTPException:
    # Nothing was written: an unknown key costs one indexed read.
    return HTTPException(status_code=404, detail="no heartbeat with this ping key")


async def _body(request: Request) -> str | None:
    if request.method != "POST":
        return None
    raw = await request.body()
    return raw[:MAX_PING_BODY].decode("utf-8", "replace") if raw else None


async def _finish(
    state: AppStateDep, request: Request, key: str, exit_status: int | None
) -> PlainTextResponse:
    """Record a finished run: exit status 0 is UP; 1-255, or None (a failure), DOWN."""
    now = datetime.now(UTC)
    body = await _body(request)

    error = None
    if exit_status is None:
        error = "heartbeat: failure reported"
    elif exit_status:
        error = f"heartbeat: exit status {exit_status}"

    def decide(target: PingTarget) -> PingUpdate:
        schedule, grace = _schedule(target.options)
        started = target.started_at
        run_ms = None
        if started is not None and (target.last_ping_at is None or started > target.last_ping_at):
            run_ms = round((now - started).total_seconds() * 1000)
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

    if await heartbeats.ping(state.engine, key, decide) is None:
        raise _not_found()
    return PlainTextResponse(_OK)


@router.api_route("/ping/{key}", methods=_METHODS, responses=responses(404, 413, 422))
async def ping(key: Key, request: Request, state: AppStateDep) -> PlainTextResponse:
    """Report a successful run (POST a body of up to 10 kB to keep it)."""
    return await _finish(state, request, key, 0)


@router.api_route("/ping/{key}/start", methods=_METHODS, responses=responses(404, 422))
async def ping_start(key: Key, state: AppStateDep) -> PlainTextResponse:
    """Report that a run started: it must finish within the grace period."""
    now = datetime.now(UTC)

    def decide(target: PingTarget) -> PingUpdate:
        schedule, grace = _schedule(target.options)
        since = target.last_ping_at or target.created_at
        return PingUpdate(
            down_at=down_at(schedule, grace, since, now), started_at=now, finished=False
        )

    if await heartbeats.ping(state.engine, key, decide) is None:
        raise _not_found()
    return PlainTextResponse(_OK)


@router.api_route("/ping/{key}/fail", methods=_METHODS, responses=responses(404, 413, 422))
async def ping_fail(key: Key, request: Request, state: AppStateDep) -> PlainTextResponse:
    """Report a failed run: the heartbeat is DOWN until the next success."""
    return await _finish(state, request, key, None)


@router.api_route("/ping/{key}/{exit_status}", methods=_METHODS, responses=responses(404, 413, 422))
async def ping_exit_status(
    key: Key,
    exit_status: Annotated[int, Path(ge=0, le=255, description="0 is success, 1-255 failure")],
    request: Request,
    state: AppStateDep,
) -> PlainTextResponse:
    """Report a finished run by its exit status."""
    return await _finish(state, request, key, exit_status)
