"""HEAD: every page answers it as it answers GET, with the same status and headers, no body."""

from __future__ import annotations

from datetime import timedelta

from fastapi.routing import APIRoute
from sqlalchemy import select

from betteruptime.db.models import Website
from betteruptime.rules.status import Status
from betteruptime.web.mount import ROUTERS
from tests.api.conftest import Api, insert_incident
from tests.web.conftest import Browser
from tests.web.helpers import add_websites, user_id


async def _same_as_get(browser: Browser, path: str) -> int:
    """Assert HEAD answers path like GET, without a body; return the status."""
    got = await browser.get(path)
    head = await browser.http.head(path)
    assert head.status_code == got.status_code, path
    assert head.content == b"", path
    for name in ("content-type", "content-security-policy", "cache-control", "location"):
        assert head.headers.get(name) == got.headers.get(name), (path, name)
    if got.content:
        assert int(head.headers["content-length"]) > 0, path
    return head.status_code


async def test_every_page_answers_head_like_get(alice: Browser, browser: Browser, api: Api) -> None:
    owner = await user_id(api, "alice")
    [website_id] = await add_websites(api, owner, 1, statuses=[Status.DOWN])
    async with api.session() as session:
        badge_key = await session.scalar(select(Website.badge_key))
    published = await alice.submit(
        "/status-pages/new", {"title": "Acme", "slug": "acme", "website_ids": [str(website_id)]}
    )
    assert published.status_code == 303
    incident_id = await insert_incident(
        api, str(website_id), started_ago=timedelta(hours=2), resolved_ago=timedelta(hours=1)
    )
    added = await alice.submit("/channels", {"name": "ops", "url": "ntfy://ntfy.sh/topic"})
    channel_id = added.headers["location"].removeprefix("/channels#channel-")
    for path in (
        "/",
        "/websites/new",
        f"/websites/{website_id}",
        f"/websites/{website_id}/edit",
        f"/websites/{website_id}/delete",
        "/status-pages",
        "/status-pages/new",
        "/account",
        "/incidents",
        "/incidents?show=open",
        f"/incidents/{incident_id}",
        "/channels",
        f"/channels/{channel_id}",
        f"/channels/{channel_id}/delete",
    ):
        assert await _same_as_get(alice, path) == 200, path
    for path in ("/login", "/register", "/s/acme", f"/badge/{badge_key}/status.svg"):
        assert await _same_as_get(browser, path) == 200, path
    assert await _same_as_get(browser, "/static/style.css") == 200
    # Redirects and error pages too.
    assert await _same_as_get(browser, "/") == 303
    assert await _same_as_get(browser, "/s/nobody") == 404
    assert await _same_as_get(alice, "/websites/not-an-id") == 404


def test_every_get_route_of_the_pages_allows_head(api: Api) -> None:
    methods = {
        (r.path, frozenset(r.methods or ()))
        for router in ROUTERS
        for r in router.routes
        if isinstance(r, APIRoute)
    }
    assert len(methods) > 10
    for path, allowed in methods:
        if "GET" in allowed:
            assert "HEAD" in allowed, path
    # And only GET pages: a form's POST never answers HEAD.
    posts = [allowed for _, allowed in methods if "POST" in allowed]
    assert posts and all("HEAD" not in allowed for allowed in posts)
