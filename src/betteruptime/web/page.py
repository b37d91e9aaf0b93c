"""The request context of a page: database session, visitor, CSRF, rendering and forms."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from betteruptime.db.models import User
from betteruptime.web.headers import PAGE_HEADERS
from betteruptime.web.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    csrf_matches,
    csrf_token,
    new_csrf_cookie,
    session_user,
    valid_csrf_cookie,
)
from betteruptime.web.state import WebState

FORM_TYPE = "application/x-www-form-urlencoded"
# A form with more fields than this is not one of ours (a status page lists at most
# MAX_STATUS_PAGE_WEBSITES websites, plus a handful of other fields).
MAX_FORM_FIELDS = 1100


class PageError(Exception):
    """Answer with an HTML error page of this status."""

    def __init__(self, status: int, title: str, message: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


class LoginRequired(Exception):
    """The page needs a logged-in user: send the visitor to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


MAX_PAGE = 100_000


def page_number(value: str) -> int:
    """Return the page number of a listing's `p` parameter (1 when blank); PageError if bad."""
    text = value.strip() or "1"
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise PageError(400, "No such page", f"The page number must be 1 to {MAX_PAGE}.")
    return int(text)


def not_found(what: str = "Page") -> PageError:
    """Return the one 404 the pages use (another user's thing looks the same)."""
    return PageError(404, f"{what} not found", "It does not exist, or it is not yours.")


@dataclass
class Form:
    """A submitted form: the last value of each field, and every value of each field."""

    values: dict[str, str]
    lists: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        """Return the field's value, or the default when absent."""
        return self.values.get(name, default)


@dataclass
class Page:
    """One request to a page."""

    request: Request
    state: WebState
    db: AsyncSession
    user: User | None
    session_token: str | None
    csrf_cookie: str
    set_csrf_cookie: bool
    # The user's id read at load time: a rollback expires the User row, and reading an
    # expired attribute would need I/O outside an await.
    user_key: uuid.UUID | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def csrf(self) -> str:
        """Return the CSRF token to put in this page's forms."""
        return csrf_token(self.state.jwt_secret, self.csrf_cookie, self.session_token)

    async def after_rollback(self) -> None:
        """Load the user again after a failed write rolled the session back (expiring it)."""
        if self.user is not None:
            self.user = await self.db.get(User, self.user_key)

    @property
    def me(self) -> User:
        """Return the logged-in user (pages that need one depend on UserPage)."""
        assert self.user is not None
        return self.user

    def render(
        self,
        template: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Return the template rendered for this visitor, with the security headers."""
        html = self.state.templates.get_template(template).render(
            user=self.user,
            csrf_field=CSRF_FIELD,
            csrf=self.csrf,
            path=self.request.url.path,
            now=self.now,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS})
        if headers:
            response.headers.update(headers)
        # Pages that depend on who is looking are never stored by shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
        self.finish(response)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        """Return a 303 to a path of ours (after a POST, the browser then GETs it)."""
        response = RedirectResponse(url, status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        """Set the CSRF cookie on the response when this visitor had none."""
        if self.set_csrf_cookie:
            response.set_cookie(
                CSRF_COOKIE,
                self.csrf_cookie,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(self.state),
                path="/",
            )

    def set_session(self, response: Response, token: str) -> None:
        """Log the browser in with this token."""
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.state.settings.jwt_lifetime_seconds,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(self.state),
            path="/",
        )

    def end_session(self, response: Response) -> None:
        """Log the browser out."""
        response.delete_cookie(
            SESSION_COOKIE,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(self.state),
            path="/",
        )

    async def form(self) -> Form:
        """Return the submitted form after checking its CSRF token; PageError otherwise."""
        content_type = self.request.headers.get("content-type", "").split(";")[0].strip()
        if content_type.lower() != FORM_TYPE:
            raise PageError(415, "Unsupported form", "Forms are sent URL-encoded.")
        try:
            text = (await self.request.body()).decode("utf-8")
            pairs = parse_qsl(
                text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, "Unreadable form", "The form could not be read.") from None
        values: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for name, value in pairs:
            values[name] = value
            lists.setdefault(name, []).append(value)
        if not csrf_matches(
            self.state.jwt_secret, self.csrf_cookie, self.session_token, values.get(CSRF_FIELD)
        ):
            raise PageError(
                403,
                "Form expired",
                "This form was not sent from this site, or it is too old. "
                "Go back, reload the page and send it again.",
            )
        return Form(values, lists)


def secure_cookies(state: WebState) -> bool:
    """Return True when cookies must be Secure (the public address is https)."""
    return state.settings.public_url is not None and state.settings.public_url.startswith(
        "https://"
    )


def get_web_state(request: Request) -> WebState:
    """Return the web state the lifespan opened."""
    state: WebState = request.app.state.web
    return state


async def get_page(request: Request) -> AsyncIterator[Page]:
    """Yield the context of one page request, with its own database session."""
    state = get_web_state(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = not valid_csrf_cookie(cookie)
    token = request.cookies.get(SESSION_COOKIE)
    async with state.sessionmaker() as db:
        user = await session_user(db, state.jwt_secret, token)
        yield Page(
            request=request,
            state=state,
            db=db,
            user=user,
            session_token=token if user is not None else None,
            csrf_cookie=new_csrf_cookie() if fresh or cookie is None else cookie,
            set_csrf_cookie=fresh,
            user_key=None if user is None else user.id,
        )


async def get_public_page(request: Request) -> AsyncIterator[Page]:
    """Yield the context of a public page: no cookie is read or set, nobody is logged in."""
    state = get_web_state(request)
    async with state.sessionmaker() as db:
        yield Page(
            request=request,
            state=state,
            db=db,
            user=None,
            session_token=None,
            csrf_cookie="",
            set_csrf_cookie=False,
        )


async def get_user_page(page: Annotated[Page, Depends(get_page)]) -> Page:
    """Return the page context of a logged-in user; LoginRequired otherwise."""
    if page.user is None:
        raise LoginRequired(page.request.url.path)
    return page


AnyPage = Annotated[Page, Depends(get_page)]
PublicPage = Annotated[Page, Depends(get_public_page)]
UserPage = Annotated[Page, Depends(get_user_page)]


def login_redirect(next_path: str) -> RedirectResponse:
    """Return a redirect to /login that comes back to next_path after logging in."""
    if next_path in {"", "/"}:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/login?next={quote(next_path, safe='/')}", status_code=303)


def safe_next(value: str | None) -> str:
    """Return a local path to go to after logging in ("/" for anything else)."""
    # Only our own absolute paths: "//evil.example" and "/\\evil" are other sites.
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x21 or c == "\\" for c in value):
        return "/"
    return value
