"""Websites: owner-only access, bad input rejected without a trace, scheduling, pagination."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from betteruptime.db.models import Region, Website, WebsiteTick
from betteruptime.db.ticks import TickRow, write_ticks
from betteruptime.rules.status import Status
from tests.api.conftest import Api, AppFactory, Client, create_website


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_create_uses_defaults_and_is_due_at_once(api: Api, owner: Client) -> None:
    before = datetime.now(UTC)
    body = await create_website(owner, "https://example.com/health", name="Example")
    assert body["url"] == "https://example.com/health" and body["name"] == "Example"
    assert (body["interval_seconds"], body["timeout_seconds"], body["enabled"]) == (180, 10, True)
    assert before <= _ts(body["next_check_at"]) <= datetime.now(UTC)
    async with api.session() as session:
        row = await session.get(Website, uuid.UUID(body["id"]))
    assert row is not None and row.owner_id == owner.user_id


async def test_a_website_is_an_http_check_and_says_so(owner: Client) -> None:
    implicit = await create_website(owner, "https://a.example.com")
    explicit = await create_website(owner, "https://b.example.com", kind="http")
    assert implicit["kind"] == explicit["kind"] == "http"
    assert (await owner.get(f"/website/{implicit['id']}")).json()["kind"] == "http"
    listed = (await owner.get("/websites")).json()["items"]
    assert [w["kind"] for w in listed] == ["http", "http"]


async def test_owner_reads_changes_and_deletes_own_website(owner: Client) -> None:
    site = await create_website(owner)
    path = f"/website/{site['id']}"
    assert (await owner.get(path)).json() == site
    changed = await owner.patch(path, json={"name": "renamed", "enabled": False})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["enabled"]) == ("renamed", False)
    assert (await owner.get(path)).json()["name"] == "renamed"
    deleted = await owner.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await owner.get(path)).status_code == 404


async def test_other_user_gets_the_same_404_as_for_a_missing_website(
    api: Api, owner: Client, other: Client
) -> None:
    site = await create_website(owner)
    missing = str(uuid.uuid4())
    snapshot = await api.snapshot()
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "mine now"}),
        ("DELETE", "", None),
        ("GET", "/ticks", None),
    ]:
        theirs = await other.request(method, f"/website/{site['id']}{suffix}", json=body)
        absent = await other.request(method, f"/website/{missing}{suffix}", json=body)
        assert theirs.status_code == absent.status_code == 404, (method, suffix)
        assert theirs.json() == absent.json() == {"detail": "website not found"}
    assert (await other.get(f"/status/{site['id']}")).json() == (
        await other.get(f"/status/{missing}")
    ).json()
    assert await api.snapshot() == snapshot


async def test_anonymous_gets_401_everywhere(api: Api, owner: Client, anonymous: Client) -> None:
    site = await create_website(owner)
    snapshot = await api.snapshot()
    for method, path, body in [
        ("POST", "/website", {"url": "https://example.org"}),
        ("GET", "/websites", None),
        ("GET", f"/website/{site['id']}", None),
        ("PATCH", f"/website/{site['id']}", {"name": "x"}),
        ("DELETE", f"/website/{site['id']}", None),
        ("GET", f"/website/{site['id']}/ticks", None),
        ("GET", f"/status/{site['id']}", None),
    ]:
        response = await anonymous.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await api.snapshot() == snapshot


async def test_list_shows_only_own_websites(owner: Client, other: Client) -> None:
    mine = await create_website(owner, "https://a.example.com")
    theirs = await create_website(other, "https://b.example.com")
    assert [w["id"] for w in (await owner.get("/websites")).json()["items"]] == [mine["id"]]
    assert [w["id"] for w in (await other.get("/websites")).json()["items"]] == [theirs["id"]]


async def test_two_users_may_monitor_the_same_url(owner: Client, other: Client) -> None:
    await create_website(owner, "https://shared.example.com")
    await create_website(other, "https://shared.example.com")


async def test_same_owner_same_url_is_409(api: Api, owner: Client) -> None:
    await create_website(owner, "https://example.com/")
    response = await owner.post("/website", json={"url": "https://example.com/"})
    assert response.status_code == 409
    assert await api.count(Website) == 1


async def test_concurrent_duplicate_creates_give_one_row(api: Api, owner: Client) -> None:
    responses = await asyncio.gather(
        *(owner.post("/website", json={"url": "https://race.example.com"}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await api.count(Website) == 1


BAD_URLS = [
    "ftp://example.com/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "example.com",
    "//example.com/",
    "http://",
    "http:///path",
    "https://user:pass@example.com/",
    "https://user@example.com/",
    "https://:pass@example.com/",
    "http://example.com:99999/",
    "http://example.com:port/",
    "http://exa mple.com/",
    "http://example.com/\n",
    " http://example.com/",
    "http://[::1/",
    "http://[not-ipv6]/",
    "http://a..b/",
    "http://ex@mple.com@evil/",
    "https://example.com/" + "a" * 2030,
    "",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=[u[:40] for u in BAD_URLS])
async def test_bad_url_is_422_on_create_and_patch(api: Api, owner: Client, url: str) -> None:
    site = await create_website(owner)
    snapshot = await api.snapshot()
    created = await owner.post("/website", json={"url": url})
    patched = await owner.patch(f"/website/{site['id']}", json={"url": url})
    assert created.status_code == patched.status_code == 422
    for response in (created, patched):
        assert response.json()["detail"][0]["loc"] == ["body", "url"]
        # The URL (it may carry credentials) is never echoed back.
        assert "user:pass" not in response.text and "a" * 100 not in response.text
    assert await api.snapshot() == snapshot


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "HTTPS://EXAMPLE.COM/Path?q=1#frag",
        "http://93.184.215.14:8080/health",
        "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/",
        "https://bücher.example/",
        "https://example.com/" + "a" * 2028,  # exactly 2,048 characters
    ],
)
async def test_good_urls_are_accepted(owner: Client, url: str) -> None:
    assert (await create_website(owner, url))["url"] == url


BLOCKED_TARGETS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:6379/",
    "http://10.0.0.5/admin",
    "http://169.254.169.254/latest/meta-data/",
]


@pytest.mark.parametrize("url", BLOCKED_TARGETS)
async def test_blocked_literal_hosts_are_422(api: Api, owner: Client, url: str) -> None:
    site = await create_website(owner)
    snapshot = await api.snapshot()
    created = await owner.post("/website", json={"url": url})
    patched = await owner.patch(f"/website/{site['id']}", json={"url": url})
    assert created.status_code == patched.status_code == 422
    assert "not an allowed target" in created.json()["detail"][0]["msg"]
    assert await api.snapshot() == snapshot


async def test_allow_private_targets_lets_private_hosts_in(start_api: AppFactory) -> None:
    async with start_api(allow_private_targets=True) as api:
        owner = await api.make_user("owner")
        await create_website(owner, "http://127.0.0.1:8080/health")
        await create_website(owner, "http://10.0.0.5/")
        # Metadata stays blocked even then.
        metadata = await owner.post("/website", json={"url": "http://169.254.169.254/"})
        assert metadata.status_code == 422


BAD_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("interval below minimum", {"interval_seconds": 9}),
    ("interval zero", {"interval_seconds": 0}),
    ("interval above a day", {"interval_seconds": 86_401}),
    ("interval as string", {"interval_seconds": "60"}),
    ("interval as float", {"interval_seconds": 60.5}),
    ("timeout zero", {"timeout_seconds": 0}),
    ("timeout above 60", {"timeout_seconds": 61}),
    ("timeout above interval", {"interval_seconds": 20, "timeout_seconds": 30}),
    ("name too long", {"name": "n" * 201}),
    ("name as number", {"name": 5}),
    ("enabled as string", {"enabled": "yes"}),
    ("enabled as 1", {"enabled": 1}),
    ("interval as bool", {"interval_seconds": True}),
    ("url as list", {"url": ["https://example.org"]}),
    ("unknown field", {"owner_id": str(uuid.uuid4())}),
    ("kind that does not exist yet", {"kind": "tcp"}),
    ("kind in capitals", {"kind": "HTTP"}),
    ("kind as null", {"kind": None}),
]


@pytest.mark.parametrize(("case", "fields"), BAD_FIELDS, ids=[c for c, _ in BAD_FIELDS])
async def test_bad_fields_are_422_and_change_nothing(
    api: Api, owner: Client, case: str, fields: dict[str, Any]
) -> None:
    site = await create_website(owner, "https://keep.example.com")
    snapshot = await api.snapshot()
    created = await owner.post("/website", json={"url": "https://new.example.com", **fields})
    assert created.status_code == 422, case
    patched = await owner.patch(f"/website/{site['id']}", json=fields)
    assert patched.status_code == 422, case
    assert await api.snapshot() == snapshot


@pytest.mark.parametrize("field", ["url", "interval_seconds", "timeout_seconds", "enabled"])
async def test_patch_null_for_a_required_field_is_422(api: Api, owner: Client, field: str) -> None:
    site = await create_website(owner)
    snapshot = await api.snapshot()
    response = await owner.patch(f"/website/{site['id']}", json={field: None})
    assert response.status_code == 422
    assert await api.snapshot() == snapshot


async def test_patch_null_name_clears_it_and_absent_fields_stay(owner: Client) -> None:
    site = await create_website(owner, name="Example", interval_seconds=60)
    response = await owner.patch(f"/website/{site['id']}", json={"name": None})
    assert response.json()["name"] is None
    assert response.json()["interval_seconds"] == 60
    assert response.json()["url"] == site["url"]


async def test_missing_body_and_malformed_json_are_422(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    snapshot = await api.snapshot()
    for method, path in [("POST", "/website"), ("PATCH", f"/website/{site['id']}")]:
        no_body = await owner.request(method, path)
        broken = await owner.request(
            method, path, content=b'{"url": ', headers={"Content-Type": "application/json"}
        )
        assert no_body.status_code == broken.status_code == 422, method
    assert await api.snapshot() == snapshot


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "%00", "00000000-0000-0000-0000"])
async def test_bad_website_id_is_422(owner: Client, bad_id: str) -> None:
    for path in (f"/website/{bad_id}", f"/website/{bad_id}/ticks", f"/status/{bad_id}"):
        response = await owner.get(path)
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["loc"] == ["path", "website_id"]


async def test_interval_minimum_comes_from_the_apps_settings(
    start_api: AppFactory,
) -> None:
    async with start_api(min_interval_seconds=60, default_interval_seconds=300) as api:
        owner = await api.make_user("owner")
        too_short = await owner.post(
            "/website", json={"url": "https://a.example.com", "interval_seconds": 30}
        )
        assert too_short.status_code == 422
        assert "between 60 and 86400" in too_short.json()["detail"][0]["msg"]
        site = await create_website(owner, "https://b.example.com")
        assert site["interval_seconds"] == 300


async def test_timeout_maximum_comes_from_the_apps_settings(start_api: AppFactory) -> None:
    settings = {"max_timeout_seconds": 5, "default_timeout_seconds": 5, "claim_idle_seconds": 6}
    async with start_api(**settings) as api:
        owner = await api.make_user("owner")
        too_long = await owner.post(
            "/website", json={"url": "https://a.example.com", "timeout_seconds": 6}
        )
        assert too_long.status_code == 422
        assert "between 1 and 5" in too_long.json()["detail"][0]["msg"]
        site = await create_website(owner, "https://b.example.com", timeout_seconds=5)
        changed = await owner.patch(f"/website/{site['id']}", json={"timeout_seconds": 6})
        assert changed.status_code == 422


async def test_whole_number_floats_count_as_integers(owner: Client) -> None:
    # JSON Schema (and so the OpenAPI document) treats 60.0 as an integer.
    site = await create_website(owner, interval_seconds=60.0, timeout_seconds=5.0)
    assert (site["interval_seconds"], site["timeout_seconds"]) == (60, 5)


async def test_short_interval_without_timeout_gets_a_timeout_that_fits(owner: Client) -> None:
    site = await create_website(owner, interval_seconds=10)
    assert site["timeout_seconds"] == 10
    site = await create_website(owner, "https://two.example.com", interval_seconds=15)
    assert site["timeout_seconds"] == 10


async def _next_check_at(api: Api, website_id: str) -> datetime:
    async with api.session() as session:
        row = await session.get(Website, uuid.UUID(website_id))
        assert row is not None
        return row.next_check_at


async def _set_next_check_at(api: Api, website_id: str, when: datetime) -> None:
    async with api.session() as session:
        row = await session.get(Website, uuid.UUID(website_id))
        assert row is not None
        row.next_check_at = when
        await session.commit()


async def test_patch_reschedules_sensibly(api: Api, owner: Client) -> None:
    site = await create_website(owner, interval_seconds=3600)
    path = f"/website/{site['id']}"
    far = datetime.now(UTC) + timedelta(minutes=50)
    await _set_next_check_at(api, site["id"], far)

    # A shorter interval brings a far-away check forward to at most one new interval.
    await owner.patch(path, json={"interval_seconds": 60})
    due = await _next_check_at(api, site["id"])
    assert due <= datetime.now(UTC) + timedelta(seconds=60)

    # A longer interval does not postpone a check that is already due sooner.
    await owner.patch(path, json={"interval_seconds": 7200})
    assert await _next_check_at(api, site["id"]) == due

    # A new URL, or enabling again, is checked at once.
    await _set_next_check_at(api, site["id"], far)
    await owner.patch(path, json={"url": "https://moved.example.com"})
    assert await _next_check_at(api, site["id"]) <= datetime.now(UTC)
    await owner.patch(path, json={"enabled": False})
    await _set_next_check_at(api, site["id"], far)
    await owner.patch(path, json={"enabled": True})
    assert await _next_check_at(api, site["id"]) <= datetime.now(UTC)

    # A name change leaves the schedule alone.
    await _set_next_check_at(api, site["id"], far)
    await owner.patch(path, json={"name": "only a name"})
    assert await _next_check_at(api, site["id"]) == far


async def test_patch_to_a_url_the_owner_already_has_is_409(api: Api, owner: Client) -> None:
    await create_website(owner, "https://one.example.com")
    two = await create_website(owner, "https://two.example.com")
    snapshot = await api.snapshot()
    response = await owner.patch(f"/website/{two['id']}", json={"url": "https://one.example.com"})
    assert response.status_code == 409
    assert await api.snapshot() == snapshot
    same = await owner.patch(f"/website/{two['id']}", json={"url": "https://two.example.com"})
    assert same.status_code == 200


async def test_delete_removes_the_websites_ticks(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    kept = await create_website(owner, "https://kept.example.com")
    async with api.session() as session:
        session.add(Region(id="eu", name="Europe"))
        await session.commit()
    now = datetime.now(UTC)
    # Ticks on two days: on PostgreSQL they live in two partitions.
    for website_id in (site["id"], kept["id"]):
        rows = [
            TickRow(
                website_id=uuid.UUID(website_id),
                status=Status.UP,
                status_code=200,
                response_time_ms=5,
                error=None,
                scheduled_at=now - timedelta(days=days),
                checked_at=now - timedelta(days=days),
            )
            for days in (0, 1)
        ]
        await write_ticks(api.state.engine, "eu", rows)
    assert await api.count(WebsiteTick) == 4
    assert (await owner.delete(f"/website/{site['id']}")).status_code == 204
    async with api.session() as session:
        refs = set(await session.scalars(select(WebsiteTick.website_ref)))
        kept_ref = await session.scalar(
            select(Website.ref).where(Website.id == uuid.UUID(kept["id"]))
        )
    assert refs == {kept_ref}
    assert await api.count(WebsiteTick) == 2


async def test_pagination_is_stable_and_bounded(owner: Client) -> None:
    created = [await create_website(owner, f"https://s{i}.example.com") for i in range(5)]
    first = (await owner.get("/websites", params={"limit": 2})).json()
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = (await owner.get("/websites", params={"limit": 2, "offset": offset})).json()
        seen += [w["id"] for w in page["items"]]
    assert seen == [w["id"] for w in created]  # oldest first, each exactly once
    assert len((await owner.get("/websites")).json()["items"]) == 5
    for params in ({"limit": 0}, {"limit": 101}, {"limit": -1}, {"offset": -1}, {"limit": "x"}):
        assert (await owner.get("/websites", params=params)).status_code == 422, params
    assert (await owner.get("/websites", params={"limit": 100})).status_code == 200
