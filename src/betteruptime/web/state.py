"""The typed object the web pages keep on `app.state.web`."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from betteruptime.config import Settings
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.notify.sender import Sender
from betteruptime.ratelimit import RateLimits
from betteruptime.web.cache import PageCache


@dataclass(frozen=True)
class WebState:
    """What page handlers need, opened once by the app's lifespan."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    jwt_secret: str
    rate_limits: RateLimits
    templates: jinja2.Environment
    # The API's own: channel URLs are decrypted and test messages sent the same way.
    cipher: ChannelCipher
    sender: Sender
    public_pages: PageCache
