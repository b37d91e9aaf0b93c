"""MAX_WEBSITES_PER_USER: creating one more is a 409, also under concurrent creates."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from betteruptime.db.models import Website
from tests.api.conftest import Api, AppFactory, Client, create_website


async def _owned(api: Api, client: Client) -> int:
    async with api.session() as session:
        count = await session.scalar(select(func.count()).where(Website.owner_id == client.user_id))
        return int(count or 0)


async def test_creating_past_the_cap_is_409(start_api: AppFactory) -> None:
    async with start_api(max_websites_per_user=3) as api:
        owner = await api.make_user("owner")
        other = await api.make_user("other")
        sites = [await create_website(owner, f"https://s{n}.example.com/") for n in range(3)]
        response = await owner.post("/website", json={"url": "https://s3.example.com/"})
        assert response.status_code == 409
        assert response.json() == {"detail": "website limit reached: at most 3 per user"}
        assert await _owned(api, owner) == 3
        # The cap is per user.
        await create_website(other, "https://s3.example.com/")
        # Deleting one makes room again; changing one never counts as creating.
        assert (await owner.delete(f"/website/{sites[0]['id']}")).status_code == 204
        await create_website(owner, "https://s4.example.com/")
        response = await owner.patch(f"/website/{sites[1]['id']}", json={"name": "renamed"})
        assert response.status_code == 200


async def test_concurrent_creates_never_overshoot_the_cap(start_api: AppFactory) -> None:
    async with start_api(max_websites_per_user=5) as api:
        owner = await api.make_user("owner")
        other = await api.make_user("other")

        async def create(client: Client, n: int) -> int:
            response = await client.post("/website", json={"url": f"https://c{n}.example.com/"})
            return response.status_code

        statuses = await asyncio.gather(
            *(create(owner, n) for n in range(20)), *(create(other, n) for n in range(3))
        )
        assert sorted(statuses[:20]) == [201] * 5 + [409] * 15
        assert statuses[20:] == [201] * 3
        assert await _owned(api, owner) == 5
        assert await _owned(api, other) == 3
