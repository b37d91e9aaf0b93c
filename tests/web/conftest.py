"""Page tests: the app in-process (SQLite and PostgreSQL), driven like a browser with httpx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.api import conftest as api_fixtures
from tests.api.conftest import Api

# The API tests' fixtures, so pages run on the same SQLite and PostgreSQL set-ups.
backend = api_fixtures.backend
database_url = api_fixtures.database_url
migrated_postgres_url = api_fixtures.migrated_postgres_url
start_api = api_fixtures.start_api
api = api_fixtures.api

PASSWORD = "correct horse battery staple"
FORM_TYPE = "application/x-www-form-urlencoded"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class Browser:
    """One browser: its own cookie jar, asking for HTML."""

    http: httpx.AsyncClient

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(self, path: str, data: dict[str, str] | list[tuple[str, str]]) -> httpx.Response:
        """Send exactly these form fields (no CSRF token added)."""
        pairs = list(data.items()) if isinstance(data, dict) else data
        return await self.http.post(
            path, content=urlencode(pairs), headers={"Content-Type": FORM_TYPE}
        )

    async def submit(
        self, path: str, data: dict[str, Any] | None = None, *, form_page: str | None = None
    ) -> httpx.Response:
        """Open the form's page (for the CSRF token), then post the fields to path."""
        page = await self.get(form_page or path)
        assert page.status_code == 200, (form_page or path, page.status_code, page.text[:500])
        fields: list[tuple[str, str]] = [("csrf_token", csrf_of(page.text))]
        for name, value in (data or {}).items():
            if isinstance(value, list):
                fields.extend((name, str(v)) for v in value)
            else:
                fields.append((name, str(value)))
        return await self.post(path, fields)

    async def register(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.submit(
            "/register",
            {"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert response.status_code == 303, response.text[:2000]
        return response

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.submit("/login", {"username": username, "password": password})


def new_browser(api: Api, address: str = "127.0.0.1", scheme: str = "http") -> Browser:
    """Return a fresh browser on the app (no cookies)."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 50000))
    http = httpx.AsyncClient(
        transport=transport, base_url=f"{scheme}://web", headers={"Accept": "text/html"}
    )
    return Browser(http)


@pytest.fixture
async def browser(api: Api) -> AsyncIterator[Browser]:
    """Return a browser with nobody logged in."""
    b = new_browser(api)
    yield b
    await b.http.aclose()


@pytest.fixture
async def alice(api: Api) -> AsyncIterator[Browser]:
    """Return a browser where alice registered (and so is logged in)."""
    b = new_browser(api)
    await b.register("alice")
    yield b
    await b.http.aclose()
