"""Error bodies: every 4xx and 5xx is JSON with `detail`, and none carries a stack trace."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from betteruptime.api.schemas import ErrorResponse, ValidationErrorResponse
from betteruptime.db.faults import Contention
from betteruptime.inputs import InputError as InputError
from betteruptime.log import get_logger
from betteruptime.ratelimit import RateLimited
from betteruptime.rules.checks import HTTP_METHODS

log = get_logger(__name__)

# One place for every status the API documents, so OpenAPI and behaviour cannot drift.
_DESCRIPTIONS = {
    401: "Missing, malformed, expired or revoked bearer token",
    403: "The current password is wrong",
    404: "Not found for this user (another user's website, page, incident or channel too)",
    409: "Conflicts with an existing resource, or a limit on how many there may be",
    413: "The request body is larger than MAX_REQUEST_BYTES",
    422: "The request is malformed or a value is out of range",
    429: "Too many attempts; wait the seconds given in Retry-After",
    503: "A backing service (database, Redis) is unavailable",
}
_BEARER_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until another attempt may succeed",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI `responses=` entry documenting the given error statuses."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model = ValidationErrorResponse if code == 422 else ErrorResponse
        entry: dict[str, Any] = {"model": model, "description": _DESCRIPTIONS[code]}
        if code == 401:
            entry["headers"] = _BEARER_CHALLENGE
        elif code == 429:
            entry["headers"] = _RETRY_AFTER
        documented[code] = entry
    return documented


def unauthorized(detail: str = "not authenticated") -> HTTPException:
    """Return the one 401 the API uses, with the Bearer challenge header."""
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # Pydantic echoes the offending `input` (a password, a token, a URL with credentials):
    # keep only where and why, never the value.
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error["type"]}


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": [_clean(e) for e in exc.errors()]})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's answer to a JSON body that is not even text (invalid UTF-8): to a
        # client that is the same mistake as malformed JSON, so the same 422.
        item = {"loc": ["body"], "msg": "body is not valid UTF-8 JSON", "type": "json_invalid"}
        return JSONResponse(status_code=422, content={"detail": [item]})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; list every method.
        return JSONResponse(
            status_code=405, content={"detail": exc.detail}, headers={"Allow": _allowed(request)}
        )
    return await http_exception_handler(request, exc)


# Every method a route of this API may answer (HTTP_METHODS); anything else is a 405 (and
# "OTHER" in metrics).


def _allowed(request: Request) -> str:
    # Ask the router which methods fully match this path (it nests included routers, so
    # reading their method lists directly would miss some). A bare scope: the request's
    # own carries routing state that short-cuts matches().
    allowed = []
    for method in HTTP_METHODS:
        probe = {"type": "http", "path": request.scope["path"], "root_path": "", "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _input_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return JSONResponse(status_code=422, content={"detail": [exc.as_dict()]})


async def _rate_limited(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        status_code=429,
        content={"detail": f"too many attempts; retry in {exc.retry_after} seconds"},
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # Only connection-level failures land here (see install_error_handlers); a bug in a
    # query is an ordinary 500.
    log.warning("database unavailable", error=type(exc).__name__)
    return JSONResponse(status_code=503, content={"detail": "database unavailable"})


async def _io_error(_request: Request, exc: Exception) -> JSONResponse:
    # asyncpg raises a bare OSError when it cannot reach the server at all.
    log.warning("service unavailable", error=type(exc).__name__)
    return JSONResponse(status_code=503, content={"detail": "service unavailable"})


async def _contention(_request: Request, exc: Exception) -> JSONResponse:
    # Other writers kept the rows busy and nothing was stored: the server's load, not the
    # request's fault, and the same request a moment later succeeds.
    log.warning("write gave up under contention", error=str(exc))
    return JSONResponse(
        status_code=503,
        content={"detail": "too many concurrent writes; retry"},
        headers={"Retry-After": "1"},
    )


async def _dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or _looks_like_connection_failure(exc):
        return await _database_unavailable(request, exc)
    return internal_error(exc, request.scope)


def _looks_like_connection_failure(exc: DBAPIError) -> bool:
    original = exc.orig
    if isinstance(original, OSError | ConnectionError | TimeoutError):
        return True
    text = str(original).lower()
    return "unable to open database file" in text or "connection" in text


def internal_error(exc: BaseException, scope: Scope) -> JSONResponse:
    """Return the bare JSON 500 for an unhandled error, logged with its request."""
    log.error(
        "unhandled error",
        method=scope.get("method"),
        path=scope.get("path"),
        error=type(exc).__name__,
        exc_info=exc,
    )
    return JSONResponse(status_code=500, content={"detail": "internal server error"})


class CatchAllMiddleware:
    """Turn any exception that escapes a route into a plain JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                # Headers are already out: nothing sane left to send, let the server close it.
                raise
            await internal_error(exc, scope)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers and the catch-all 500 on the app."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(Contention, _contention)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(OSError, _io_error)
    app.add_middleware(CatchAllMiddleware)
