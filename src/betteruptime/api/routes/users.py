"""Users: register, log in, change password."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException

from betteruptime.api.deps import AppStateDep, CurrentUser, SessionDep
from betteruptime.api.errors import responses, unauthorized
from betteruptime.api.ratelimit import limit_per_ip
from betteruptime.api.schemas import PasswordChange, UserLogin, UserRegister, UserToken
from betteruptime.api.state import AppState
from betteruptime.auth.passwords import hash_password, verify_password
from betteruptime.auth.tokens import issue_token
from betteruptime.db import users
from betteruptime.db.models import User

router = APIRouter(prefix="/user", tags=["users"])

_DUPLICATE = "username or email is already registered"


def _user_token(user: User, state: AppState) -> UserToken:
    token = issue_token(user.id, state.jwt_secret, state.settings.jwt_lifetime_seconds)
    return UserToken(id=user.id, username=user.username, email=user.email, token=token)


@router.post(
    "/register",
    status_code=201,
    responses=responses(409, 413, 422, 429),
    dependencies=[Depends(limit_per_ip("register"))],
)
async def register(body: UserRegister, session: SessionDep, state: AppStateDep) -> UserToken:
    """Create a user; returns the user and a token."""
    await state.rate_limits.hit("register", "user", body.username.casefold())
    if await users.name_or_email_taken(session, body.username, body.email):
        raise HTTPException(status_code=409, detail=_DUPLICATE)
    # argon2 takes ~0.1 s of CPU: off the event loop, or every other request waits.
    password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        user = await users.create_user(
            session,
            username=body.username,
            email=body.email,
            password_hash=password_hash,
            now=datetime.now(UTC),
        )
    except users.DuplicateUser:
        raise HTTPException(status_code=409, detail=_DUPLICATE) from None
    return _user_token(user, state)


@router.post(
    "/login",
    responses=responses(401, 413, 422, 429),
    dependencies=[Depends(limit_per_ip("login"))],
)
async def login(body: UserLogin, session: SessionDep, state: AppStateDep) -> UserToken:
    """Check a username and password; returns the user and a new token."""
    # Per account as well as per address: guesses at one account spread over many
    # addresses still meet this limit (at the price of a short lockout of that name).
    await state.rate_limits.hit("login", "user", body.username.casefold())
    user = await users.get_by_username(session, body.username)
    # verify_password costs the same without a user, so timing does not reveal names.
    ok = await asyncio.to_thread(
        verify_password, body.password, None if user is None else user.password_hash
    )
    if user is None or not ok:
        raise unauthorized("wrong username or password")
    return _user_token(user, state)


@router.post("/password", responses=responses(401, 403, 413, 422))
async def change_password(
    body: PasswordChange, user: CurrentUser, session: SessionDep, state: AppStateDep
) -> UserToken:
    """Set a new password; every token issued before now stops working. Returns a new token."""
    ok = await asyncio.to_thread(verify_password, body.current_password, user.password_hash)
    if not ok:
        # 403, not 401: the token is fine, the password is not; clients must not log out.
        raise HTTPException(status_code=403, detail="current password is wrong")
    password_hash = await asyncio.to_thread(hash_password, body.new_password)
    # The new token is issued after this instant, so only it survives (iat is fractional).
    await users.set_password(session, user, password_hash, datetime.now(UTC))
    return _user_token(user, state)
