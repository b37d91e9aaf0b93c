"""Logging in, registering and logging out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ValidationError

from betteruptime.auth.passwords import hash_password, verify_password
from betteruptime.auth.tokens import InvalidTokenError, issue_token, verify_token
from betteruptime.db import users
from betteruptime.inputs import UserLogin, UserRegister
from betteruptime.ratelimit import Action, RateLimited, client_ip
from betteruptime.web.forms import field_errors
from betteruptime.web.page import AnyPage, Page, PageError, safe_next

router = APIRouter()


def _too_many(exc: RateLimited) -> PageError:
    return PageError(
        429, "Too many attempts", f"Retry in {exc.retry_after} seconds, or a little later."
    )


async def _hit(page: Page, action: Action, username: str) -> None:
    # The same buckets as the API's /user/login and /user/register: one limit, two doors.
    limits = page.state.rate_limits
    try:
        await limits.hit(action, "ip", client_ip(page.request))
        await limits.hit(action, "user", username.casefold())
    except RateLimited as exc:
        raise _too_many(exc) from None


@router.get("/login")
async def login_form(
    page: AnyPage, next_path: Annotated[str | None, Query(alias="next", max_length=2048)] = None
) -> Response:
    """The login form; a logged-in visitor goes straight on."""
    if page.user is not None:
        return page.redirect(safe_next(next_path))
    return page.render("login.html", values={}, errors={}, next=safe_next(next_path))


@router.post("/login")
async def login(page: AnyPage) -> Response:
    """Check the username and password; on success set the session cookie and go on."""
    form = await page.form()
    values = {"username": form.get("username")}
    target = safe_next(form.get("next"))
    await _hit(page, "login", form.get("username"))
    try:
        body = UserLogin(username=form.get("username"), password=form.get("password"))
    except ValidationError as exc:
        return page.render(
            "login.html", status=422, values=values, errors=field_errors(exc), next=target
        )
    user = await users.get_by_username(page.db, body.username)
    # verify_password costs the same without a user, so timing does not reveal names.
    ok = await asyncio.to_thread(
        verify_password, body.password, None if user is None else user.password_hash
    )
    if user is None or not ok:
        return page.render(
            "login.html",
            status=401,
            values=values,
            errors={"form": "Wrong username or password."},
            next=target,
        )
    response = page.redirect(target)
    settings = page.state.settings
    page.set_session(
        response, issue_token(user.id, page.state.jwt_secret, settings.jwt_lifetime_seconds)
    )
    return response


@router.get("/register")
async def register_form(page: AnyPage) -> Response:
    """The form to create an account."""
    if page.user is not None:
        return page.redirect("/")
    return page.render("register.html", values={}, errors={})


@router.post("/register")
async def register(page: AnyPage) -> Response:
    """Create the account with the API's rules, log it in and open the dashboard."""
    form = await page.form()
    values = {"username": form.get("username"), "email": form.get("email")}
    await _hit(page, "register", form.get("username"))
    try:
        body = UserRegister(
            username=form.get("username"), email=form.get("email"), password=form.get("password")
        )
    except ValidationError as exc:
        return page.render("register.html", status=422, values=values, errors=field_errors(exc))
    taken = "This username or email is already registered."
    if await users.name_or_email_taken(page.db, body.username, body.email):
        return page.render("register.html", status=409, values=values, errors={"form": taken})
    password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        user = await users.create_user(
            page.db,
            username=body.username,
            email=body.email,
            password_hash=password_hash,
            now=page.now,
        )
    except users.DuplicateUser:
        return page.render("register.html", status=409, values=values, errors={"form": taken})
    response = page.redirect("/")
    settings = page.state.settings
    page.set_session(
        response, issue_token(user.id, page.state.jwt_secret, settings.jwt_lifetime_seconds)
    )
    return response


@router.post("/logout")
async def logout(page: AnyPage) -> Response:
    """End this browser's session: its token is refused from now on, here and by the API."""
    await page.form()
    try:
        claims = verify_token(page.session_token or "", page.state.jwt_secret)
    except InvalidTokenError:
        pass  # No session, or it expired meanwhile: nothing left to revoke.
    else:
        # Only this token: the user's other browsers and API tokens stay logged in.
        expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
        await users.revoke_token(page.db, claims.token_id, expires_at, page.now)
    response = page.redirect("/login")
    page.end_session(response)
    return response
