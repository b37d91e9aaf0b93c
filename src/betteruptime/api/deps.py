"""Request dependencies: the session, the current user and the one website-ownership rule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.api.errors import unauthorized
from betteruptime.api.state import AppState
from betteruptime.auth.tokens import InvalidTokenError, verify_token
from betteruptime.config import Settings
from betteruptime.db.models import User, Website
from betteruptime.db.users import token_user
from betteruptime.db.websites import get_owned


def get_app_state(request: Request) -> AppState:
    """Return the state the lifespan opened."""
    state: AppState = request.app.state.core
    return state


AppStateDep = Annotated[AppState, Depends(get_app_state)]


def get_settings(state: AppStateDep) -> Settings:
    """Return the app's settings (never globals: two apps may differ)."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(state: AppStateDep) -> AsyncIterator[AsyncSession]:
    """Yield a session for one request; routes commit explicitly."""
    async with state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# auto_error=False: a missing header must be our 401 with the Bearer challenge, and the
# scheme still shows up in OpenAPI so clients (and fuzzers) know how to authenticate.
_bearer = HTTPBearer(auto_error=False, description="A token from /user/register or /user/login")


async def get_current_user(
    state: AppStateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """Return the user the bearer token names, or raise 401."""
    if credentials is None:
        raise unauthorized()
    try:
        claims = verify_token(credentials.credentials, state.jwt_secret)
    except InvalidTokenError:
        raise unauthorized("invalid or expired token") from None
    user = await token_user(session, claims.user_id, claims.token_id, claims.issued_at)
    if user is None:
        # Deleted since, logged out (a browser session's token) or issued before the last
        # password change: the same answer as a forged token.
        raise unauthorized("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_owned_website(
    user: CurrentUser,
    session: SessionDep,
    website_id: Annotated[uuid.UUID, Path(description="The website's id (a UUID)")],
) -> Website:
    """Return the website when the current user owns it; 404 otherwise, never 403."""
    # The one authorization rule for websites: the owner is part of the lookup, so a
    # website of another user is indistinguishable from one that does not exist.
    website = await get_owned(session, website_id, user.id)
    if website is None:
        raise HTTPException(status_code=404, detail="website not found")
    return website


OwnedWebsite = Annotated[Website, Depends(get_owned_website)]
