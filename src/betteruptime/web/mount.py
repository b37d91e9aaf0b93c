"""Mount the pages on the app: routes, static files and the HTML error pages."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from betteruptime.config import Settings
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender
from betteruptime.ratelimit import RateLimits
from betteruptime.routes import add_routes
from betteruptime.web.cache import PageCache
from betteruptime.web.headers import PAGE_HEADERS
from betteruptime.web.page import LoginRequired, PageError, login_redirect
from betteruptime.web.routes import (
    account,
    auth,
    badges,
    channels,
    dashboard,
    incidents,
    public,
    status_pages,
    websites,
)
from betteruptime.web.state import WebState
from betteruptime.web.templating import STATIC_DIR, make_templates

# Every router of the pages, in the order paths are tried. The browser-only routes come
# first: at a path the API shares (GET /status-pages), a browser gets the page.
ROUTERS: tuple[APIRouter, ...] = (
    status_pages.browser_router,
    incidents.router,
    channels.browser_router,
    auth.router,
    account.router,
    dashboard.router,
    websites.router,
    status_pages.router,
    channels.router,
    public.router,
    badges.router,
)


def make_web_state(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    jwt_secret: str,
    rate_limits: RateLimits,
    cipher: ChannelCipher,
    sender: Sender,
) -> WebState:
    """Return the state the pages share, built once at start."""
    return WebState(
        settings=settings,
        sessionmaker=sessionmaker,
        jwt_secret=jwt_secret,
        rate_limits=rate_limits,
        templates=make_templates(),
        cipher=cipher,
        sender=sender,
        public_pages=PageCache(settings.status_page_cache_seconds),
    )


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    state: WebState = request.app.state.web
    html = state.templates.get_template("error.html").render(
        title=exc.title, message=exc.message, status=exc.status
    )
    headers = {**PAGE_HEADERS, "Cache-Control": "no-store"}
    if exc.status == 429 and exc.message.startswith("Retry in "):
        headers["Retry-After"] = exc.message.removeprefix("Retry in ").split(" ")[0]
    return HTMLResponse(html, status_code=exc.status, headers=headers)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return login_redirect(exc.next_path)


def install_web(app: FastAPI) -> None:
    """Add the pages to the app; include before the API so browsers get HTML at shared paths."""
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        add_routes(app, router, in_schema=False)
