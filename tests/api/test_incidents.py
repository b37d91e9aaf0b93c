"""The incident API: list, read with the timeline, acknowledge, resolve; availability; isolation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from betteruptime.db.models import Evaluation, Incident, IncidentEvent
from tests.api.conftest import Api, Client, create_website, insert_incident


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_an_incident_with_its_timeline(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    incident_id = await insert_incident(api, site["id"])
    response = await owner.get(f"/incidents/{incident_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == incident_id
    assert body["website_id"] == site["id"]
    assert body["state"] == "open"
    assert body["cause"] == {"error": "status 503", "status_code": 503, "regions": ["eu", "us"]}
    assert (body["acknowledged_at"], body["resolved_at"], body["resolved_by"]) == (None,) * 3
    # Open: the duration runs to now.
    assert 299 <= body["duration_seconds"] < 330
    assert [e["kind"] for e in body["events"]] == ["opened"]
    assert body["events"][0]["actor_id"] is None


async def test_acknowledge_then_resolve_by_hand(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    incident_id = await insert_incident(api, site["id"])
    path = f"/incidents/{incident_id}"

    first = await owner.post(f"{path}/acknowledge")
    assert first.status_code == 200
    body = first.json()
    assert body["state"] == "acknowledged"
    assert body["acknowledged_by"] == str(owner.user_id)
    assert body["acknowledged_at"] is not None
    # Again: idempotent, no second event.
    again = await owner.post(f"{path}/acknowledge")
    assert again.status_code == 200
    assert again.json()["acknowledged_at"] == body["acknowledged_at"]

    resolved = await owner.post(f"{path}/resolve")
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["state"] == "resolved"
    assert body["resolved_by"] == str(owner.user_id)
    duration = body["duration_seconds"]
    assert [e["kind"] for e in body["events"]] == ["opened", "acknowledged", "resolved"]
    assert [e["actor_id"] for e in body["events"]][1:] == [str(owner.user_id)] * 2
    assert body["events"][2]["detail"]["by"] == "hand"
    # The website is queued for evaluation (so a recovered site is released at once).
    assert await api.count(Evaluation) == 1

    # Resolving again is a no-op; acknowledging a resolved incident is a conflict.
    again = await owner.post(f"{path}/resolve")
    assert again.status_code == 200
    assert again.json()["duration_seconds"] == duration  # frozen once resolved
    conflict = await owner.post(f"{path}/acknowledge")
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "incident is resolved"}
    assert await api.count(IncidentEvent) == 3
    # No longer open: the status no longer carries it.
    status = (await owner.get(f"/status/{site['id']}")).json()
    assert status["incident"] is None


async def test_list_newest_first_with_filters_and_paging(
    api: Api, owner: Client, other: Client
) -> None:
    a = await create_website(owner, "https://a.example.com/")
    b = await create_website(owner, "https://b.example.com/")
    theirs = await create_website(other, "https://c.example.com/")
    ids = [
        await insert_incident(
            api, a["id"], started_ago=timedelta(hours=5), resolved_ago=timedelta(hours=4)
        ),
        await insert_incident(
            api, b["id"], started_ago=timedelta(hours=3), resolved_ago=timedelta(hours=2)
        ),
        await insert_incident(api, a["id"], started_ago=timedelta(hours=1)),
    ]
    await insert_incident(api, theirs["id"])

    items = (await owner.get("/incidents")).json()["items"]
    assert [i["id"] for i in items] == ids[::-1]
    assert [i["state"] for i in items] == ["open", "resolved", "resolved"]

    assert [
        i["id"] for i in (await owner.get("/incidents", params={"state": "open"})).json()["items"]
    ] == [ids[2]]
    by_site = (await owner.get("/incidents", params={"website_id": a["id"]})).json()["items"]
    assert [i["id"] for i in by_site] == [ids[2], ids[0]]
    # Another user's website filters to nothing (never their incidents).
    foreign = await owner.get("/incidents", params={"website_id": theirs["id"]})
    assert foreign.json()["items"] == []

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["before"] = cursor
        page = (await owner.get("/incidents", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_before"]
        if cursor is None:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    "params",
    [
        {"state": "closed"},
        {"state": ""},
        {"website_id": "nope"},
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"before": "yesterday"},
        {"before": "1700000000"},
    ],
)
async def test_bad_list_parameters_are_422(owner: Client, params: dict[str, Any]) -> None:
    response = await owner.get("/incidents", params=params)
    assert response.status_code == 422, params
    assert isinstance(response.json()["detail"], list)


async def test_another_users_incident_is_404_like_a_missing_one(
    api: Api, owner: Client, other: Client
) -> None:
    site = await create_website(owner)
    incident_id = await insert_incident(api, site["id"])
    missing = str(uuid.uuid4())
    for method, suffix in [("GET", ""), ("POST", "/acknowledge"), ("POST", "/resolve")]:
        for client, target in [(other, incident_id), (owner, missing)]:
            response = await client.request(method, f"/incidents/{target}{suffix}")
            assert response.status_code == 404, (method, suffix)
            assert response.json() == {"detail": "incident not found"}
        bad = await owner.request(method, f"/incidents/not-a-uuid{suffix}")
        assert bad.status_code == 422
    assert (await other.get("/incidents")).json()["items"] == []
    async with api.session() as session:
        incident = await session.get(Incident, uuid.UUID(incident_id))
        assert incident is not None and incident.state == "open"
    assert await api.count(IncidentEvent) == 1


async def test_availability_counts_confirmed_incident_time(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    path = f"/website/{site['id']}/availability"
    first = await owner.get(path, params={"window": "24h"})
    assert first.status_code == 200
    assert first.json()["availability"] == 1.0
    # 2.4 hours of a 24-hour window, and one more incident starting before the window.
    await insert_incident(
        api, site["id"], started_ago=timedelta(hours=3.4), resolved_ago=timedelta(hours=1)
    )
    await insert_incident(
        api, site["id"], started_ago=timedelta(hours=30), resolved_ago=timedelta(hours=23)
    )
    body = (await owner.get(path, params={"window": "24h"})).json()
    assert body["window"] == "24h"
    assert _ts(body["end"]) - _ts(body["start"]) == timedelta(hours=24)
    assert body["availability"] == pytest.approx(1 - 3.4 / 24, abs=1e-3)
    week = (await owner.get(path, params={"window": "7d"})).json()["availability"]
    assert week == pytest.approx(1 - 9.4 / 168, abs=1e-3)
    default = (await owner.get(path)).json()
    assert default["window"] == "30d"
    for window in ("1h", "", "24", "7D"):
        assert (await owner.get(path, params={"window": window})).status_code == 422


async def test_thresholds_on_create_patch_and_show(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    fields = ("confirmation_checks", "recovery_checks", "regions_required", "reminder_minutes")
    assert {f: site[f] for f in fields} == dict.fromkeys(fields)  # null: the defaults
    custom = await create_website(
        owner,
        "https://custom.example.com/",
        confirmation_checks=3,
        recovery_checks=4,
        regions_required=2,
        reminder_minutes=30,
    )
    assert [custom[f] for f in fields] == [3, 4, 2, 30]

    path = f"/website/{custom['id']}"
    changed = await owner.patch(path, json={"recovery_checks": 1, "reminder_minutes": None})
    assert changed.status_code == 200
    assert [changed.json()[f] for f in fields] == [3, 1, 2, None]
    assert [(await owner.get(path)).json()[f] for f in fields] == [3, 1, 2, None]

    snapshot = await api.snapshot()
    for bad in (
        {"confirmation_checks": 0},
        {"confirmation_checks": 101},
        {"recovery_checks": "2"},
        {"regions_required": -1},
        {"regions_required": 1.5},
        {"reminder_minutes": 0},
        {"reminder_minutes": 7 * 24 * 60 + 1},
        {"reminder_minutes": True},
    ):
        response = await owner.patch(path, json=bad)
        assert response.status_code == 422, bad
        create = await owner.post("/website", json={"url": "https://x.example.com/", **bad})
        assert create.status_code == 422, bad
    assert await api.snapshot() == snapshot
    assert [(await owner.get(path)).json()[f] for f in fields] == [3, 1, 2, None]


async def test_deleting_a_website_deletes_its_incidents(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    await insert_incident(api, site["id"])
    assert (await owner.delete(f"/website/{site['id']}")).status_code == 204
    async with api.session() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 0
    assert await api.count(IncidentEvent) == 0


async def test_stats_report_availability_beside_the_success_ratio(api: Api, owner: Client) -> None:
    site = await create_website(owner)
    path = f"/website/{site['id']}/stats"
    assert (await owner.get(path, params={"window": "24h"})).json()["availability"] == 1.0
    await insert_incident(
        api, site["id"], started_ago=timedelta(hours=3.4), resolved_ago=timedelta(hours=1)
    )
    body = (await owner.get(path, params={"window": "24h"})).json()
    span = (_ts(body["to"]) - _ts(body["from"])).total_seconds()
    assert body["availability"] == pytest.approx(1 - 2.4 * 3600 / span, abs=1e-3)
