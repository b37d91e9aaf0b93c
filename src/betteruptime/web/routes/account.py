"""The account page: who you are, and changing the password (which ends other sessions)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from betteruptime.auth.passwords import hash_password, verify_password
from betteruptime.auth.tokens import issue_token
from betteruptime.db import users
from betteruptime.inputs import PasswordChange
from betteruptime.web.forms import field_errors
from betteruptime.web.page import UserPage

router = APIRouter()


@router.get("/account")
async def account(page: UserPage) -> Response:
    """The account page."""
    return page.render("account.html", errors={}, changed=False)


@router.post("/account/password")
async def change_password(page: UserPage) -> Response:
    """Set a new password; every other session and API token stops working."""
    form = await page.form()
    try:
        body = PasswordChange(
            current_password=form.get("current_password"),
            new_password=form.get("new_password"),
        )
    except ValidationError as exc:
        return page.render("account.html", status=422, errors=field_errors(exc), changed=False)
    user = page.me
    ok = await asyncio.to_thread(verify_password, body.current_password, user.password_hash)
    if not ok:
        errors = {"current_password": "is wrong"}
        return page.render("account.html", status=403, errors=errors, changed=False)
    password_hash = await asyncio.to_thread(hash_password, body.new_password)
    await users.set_password(page.db, user, password_hash, datetime.now(UTC))
    # Issued after tokens_valid_after (its iat is fractional), so only this browser stays in.
    token = issue_token(user.id, page.state.jwt_secret, page.state.settings.jwt_lifetime_seconds)
    page.session_token = token
    response = page.render("account.html", errors={}, changed=True)
    page.set_session(response, token)
    return response
