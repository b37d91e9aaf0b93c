"""Liveness of the API and the services it needs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from betteruptime.api.deps import AppStateDep
from betteruptime.api.schemas import Health, HealthError
from betteruptime.api.state import AppState
from betteruptime.db.session import ping
from betteruptime.log import get_logger

router = APIRouter(tags=["health"])
log = get_logger(__name__)

# A health probe must answer quickly even when a dependency hangs.
PROBE_TIMEOUT_SECONDS = 3.0


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": HealthError, "description": "The database or Redis is down"}},
)
async def healthz(state: AppStateDep) -> Health | JSONResponse:
    """Return 200 when the database (and Redis, when configured) answer, else 503."""
    database, redis = await asyncio.gather(_probe_database(state), _probe_redis(state))
    if database == "ok" and redis in {"ok", "not configured"}:
        return Health(status="ok", database=database, redis=redis)
    body = HealthError(detail="unavailable", database=database, redis=redis)
    return JSONResponse(status_code=503, content=body.model_dump())


async def _probe_database(state: AppState) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await ping(state.engine)
    except Exception as exc:  # any failure is "down": a probe must never answer 500
        log.warning("health: database unavailable", error=type(exc).__name__)
        return "unavailable"
    return "ok"


async def _probe_redis(state: AppState) -> str:
    if state.redis is None:
        return "not configured"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await _ping(state.redis)
    except Exception as exc:  # see _probe_database
        log.warning("health: redis unavailable", error=type(exc).__name__)
        return "unavailable"
    return "ok"


async def _ping(client: Any) -> None:
    await client.ping()
