"""Status pages in the JSON API: owner-only CRUD, slug rules, only one's own websites."""

from __future__ import annotations

import uuid

from betteruptime.db.models import StatusPage, StatusPageWebsite
from tests.api.conftest import Api, Client, create_website


async def _page(client: Client, **fields: object) -> dict[str, object]:
    body = {"title": "Acme status", "slug": "acme", **fields}
    response = await client.post("/status-pages", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


async def test_create_list_read_change_and_delete(owner: Client) -> None:
    a = await create_website(owner, "https://a.example.com/")
    b = await create_website(owner, "https://b.example.com/")
    page = await _page(owner, website_ids=[b["id"], a["id"]], show_urls=True)
    assert page["slug"] == "acme" and page["show_urls"] is True
    assert page["website_ids"] == [b["id"], a["id"]]  # the owner's order is kept

    listed = (await owner.get("/status-pages")).json()
    assert [p["id"] for p in listed] == [page["id"]]
    got = await owner.get(f"/status-pages/{page['id']}")
    assert got.json() == page

    changed = await owner.patch(
        f"/status-pages/{page['id']}", json={"title": "Acme", "website_ids": [a["id"]]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Acme"
    assert changed.json()["website_ids"] == [a["id"]]
    assert changed.json()["slug"] == "acme" and changed.json()["show_urls"] is True

    assert (await owner.delete(f"/status-pages/{page['id']}")).status_code == 204
    assert (await owner.get(f"/status-pages/{page['id']}")).status_code == 404
    assert (await owner.get(f"/website/{a['id']}")).status_code == 200  # websites stay


async def test_another_users_page_is_a_404_and_unchanged(
    api: Api, owner: Client, other: Client
) -> None:
    page = await _page(owner)
    url = f"/status-pages/{page['id']}"
    for response in (
        await other.get(url),
        await other.patch(url, json={"title": "mine now"}),
        await other.delete(url),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "status page not found"}
    assert (await other.get("/status-pages")).json() == []
    assert (await owner.get(url)).json() == page
    assert (await owner.get(f"/status-pages/{uuid.uuid4()}")).status_code == 404


async def test_another_users_website_ids_are_refused(
    api: Api, owner: Client, other: Client
) -> None:
    theirs = await create_website(other, "https://theirs.example.com/")
    response = await owner.post(
        "/status-pages", json={"title": "t", "slug": "s", "website_ids": [theirs["id"]]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "website_ids"]
    assert await api.count(StatusPage) == 0

    page = await _page(owner)
    response = await owner.patch(
        f"/status-pages/{page['id']}", json={"website_ids": [str(uuid.uuid4())]}
    )
    assert response.status_code == 422
    assert await api.count(StatusPageWebsite) == 0


async def test_slug_is_unique_across_users(owner: Client, other: Client) -> None:
    await _page(owner, slug="taken")
    response = await other.post("/status-pages", json={"title": "x", "slug": "taken"})
    assert response.status_code == 409
    mine = await _page(other, slug="mine")
    response = await other.patch(f"/status-pages/{mine['id']}", json={"slug": "taken"})
    assert response.status_code == 409
    assert (await other.get(f"/status-pages/{mine['id']}")).json()["slug"] == "mine"


async def test_bad_input_is_422_and_creates_nothing(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    bad_bodies = [
        {"title": "t", "slug": "Has Caps"},
        {"title": "t", "slug": "-edge"},
        {"title": "t", "slug": "x" * 65},
        {"title": "t", "slug": "a/b"},
        {"title": "   ", "slug": "ok"},
        {"title": "", "slug": "ok"},
        {"title": "t" * 201, "slug": "ok"},
        {"title": "t", "slug": "ok", "website_ids": ["not-a-uuid"]},
        {"title": "t", "slug": "ok", "website_ids": [site["id"], site["id"]]},
        {"title": "t", "slug": "ok", "show_urls": "yes"},
        {"title": "t", "slug": "ok", "extra": 1},
        {"slug": "ok"},
    ]
    for body in bad_bodies:
        response = await owner.post("/status-pages", json=body)
        assert response.status_code == 422, (body, response.text)
    assert await api.count(StatusPage) == 0
    page = await _page(owner)
    for body in ({"title": None}, {"slug": "NO"}, {"website_ids": None}):
        response = await owner.patch(f"/status-pages/{page['id']}", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await owner.get(f"/status-pages/{page['id']}")).json() == page


async def test_deleting_a_website_drops_it_from_pages(owner: Client) -> None:
    site = await create_website(owner)
    page = await _page(owner, website_ids=[site["id"]])
    assert (await owner.delete(f"/website/{site['id']}")).status_code == 204
    assert (await owner.get(f"/status-pages/{page['id']}")).json()["website_ids"] == []


async def test_badge_key_is_in_the_website_and_rotates(owner: Client, other: Client) -> None:
    site = await create_website(owner)
    key = site["badge_key"]
    assert isinstance(key, str) and len(key) >= 24
    rotated = await owner.post(f"/website/{site['id']}/badge-key")
    assert rotated.status_code == 200
    assert rotated.json()["badge_key"] not in {key, ""}
    assert (await other.post(f"/website/{site['id']}/badge-key")).status_code == 404
    assert (await owner.get(f"/website/{site['id']}")).json()["badge_key"] == rotated.json()[
        "badge_key"
    ]
