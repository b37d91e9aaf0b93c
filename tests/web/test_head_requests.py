"""HEAD: every page answers it as it answers GET, with the same status and headers, no body."""

from __future__ import annotations

from datetime import timedelta

from fastapi.routing import APIRoute
from sqlalchemy import select

from betteruptime.db.models import Website
from betteruptime.rules.status import Status
from betteruptime.web.mount import ROUTERS
from tests.api.conftest import Api, Client, insert_incident
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


async def _api_head_same_as_get(client: Client, path: str) -> int:
    """Assert HEAD answers an API path like GET (status, headers), without a body."""
    got = await client.get(path)
    head = await client.request("HEAD", path)
    assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
    assert head.content == b"", path
    for name in ("content-type", "www-authenticate", "cache-control", "etag"):
        assert head.headers.get(name) == got.headers.get(name), (path, name)
    # The length of the body HEAD leaves out (some answers hold the time: not the GET's).
    if got.content:
        assert int(head.headers["content-length"]) > 0, path
    return head.status_code


async def test_every_get_route_of_the_api_answers_head_like_get(api: Api) -> None:
    owner = await api.make_user("erin")
    website = (await owner.post("/website", json={"url": "https://erin.example.com/"})).json()
    incident_id = await insert_incident(
        api, website["id"], started_ago=timedelta(hours=2), resolved_ago=timedelta(hours=1)
    )
    added = await owner.post("/channels", json={"name": "ops", "url": "ntfy://ntfy.sh/topic"})
    assert added.status_code == 201, added.text
    published = await owner.post(
        "/status-pages", json={"title": "Erin", "slug": "erin", "website_ids": [website["id"]]}
    )
    assert published.status_code == 201, published.text
    # Every GET operation the API documents, with its ids filled in: the defect was
    # /incidents and /channels (shared with pages) answering 405 to a client's HEAD.
    schema = (await api.http.get("/openapi.json")).json()
    ids = {
        "website_id": website["id"],
        "incident_id": incident_id,
        "channel_id": added.json()["id"],
        "key": website["badge_key"],
        "status_page_id": published.json()["id"],
    }
    checked = set()
    for path, item in schema["paths"].items():
        # A ping (GET or HEAD) records a heartbeat: pings document their own HEAD.
        if "get" not in item or path.startswith("/ping/"):
            continue
        url = path.format_map(ids)
        status = await _api_head_same_as_get(owner, url)
        assert status < 500, url
        checked.add(path)
    assert {"/incidents", "/channels", "/websites", "/website/{website_id}"} <= checked
    assert await _api_head_same_as_get(owner, "/incidents") == 200
    assert await _api_head_same_as_get(owner, "/channels") == 200
    # Without a token, as without Accept: text/html: the API's 401, not a 405.
    assert await _api_head_same_as_get(api.anonymous, "/incidents") == 401
    assert await _api_head_same_as_get(api.anonymous, "/channels") == 401
    assert await _api_head_same_as_get(api.anonymous, "/healthz") == 200


def test_every_get_route_of_the_app_allows_head_and_openapi_lists_get_only(api: Api) -> None:
    routes = [r for r in api.app.routes if isinstance(r, APIRoute)]
    gets = [r for r in routes if "GET" in (r.methods or ())]
    assert len(gets) > 30
    assert all("HEAD" in (r.methods or ()) for r in gets), [
        r.path for r in gets if "HEAD" not in (r.methods or ())
    ]
    schema = api.app.openapi()
    heads = sorted(path for path, item in schema["paths"].items() if "head" in item)
    # Only the heartbeat pings document a HEAD of their own (a HEAD ping is a ping).
    assert heads and all(path.startswith("/ping/") for path in heads), heads
    assert "get" in schema["paths"]["/incidents"]
