"""Mount the pages on the app: routes, static files and the HTML error pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from betteruptime.config import Settings
from betteruptime.ratelimit import RateLimits
from betteruptime.web.cache import PageCache
from betteruptime.web.headers import PAGE_HEADERS
from betteruptime.web.page import LoginRequired, PageError, login_redirect
from betteruptime.web.routes import (
    account,
    auth,
    badges,
    dashboard,
    public,
    status_pages,
    websites,
)
from betteruptime.web.state import WebState
from betteruptime.web.templating import STATIC_DIR, make_templates


def make_web_state(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    jwt_secret: str,
    rate_limits: RateLimits,
) -> WebState:
    """Return the state the pages share, built once at start."""
    return WebState(
        settings=settings,
        sessionmaker=sessionmaker,
        jwt_secret=jwt_secret,
        rate_limits=rate_limits,
        templates=make_templates(),
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
    app.include_router(status_pages.browser_router, include_in_schema=False)
    for module in (auth, account, dashboard, websites, status_pages, public, badges):
        app.include_router(module.router, include_in_schema=False)
