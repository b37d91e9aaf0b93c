"""Heartbeat pings over the API: success, start, failure, exit statuses, silences, unknown keys."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from betteruptime.db.models import Heartbeat, WebsiteStatus, WebsiteTick
from betteruptime.db.ticks import TickView, all_ticks
from betteruptime.rules.status import Status
from betteruptime.scheduler.heartbeats import record_silences, watch_heartbeats
from tests.api.conftest import Api, Client


async def _heartbeat(owner: Client, **options: Any) -> Any:
    response = await owner.post(
        "/website",
        json={"kind": "heartbeat", "options": options or {"period_seconds": 3600}},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _ticks(api: Api) -> list[TickView]:
    """Return every stored tick, oldest first."""
    async with api.state.engine.connect() as conn:
        rows = await all_ticks(conn)
    return sorted((t for _, t in rows), key=lambda t: t.checked_at)


async def _state(api: Api, website_id: str) -> Heartbeat:
    async with api.session() as session:
        row = await session.scalar(
            select(Heartbeat).where(Heartbeat.website_id == uuid.UUID(website_id))
        )
        assert row is not None
        return row


async def test_a_ping_records_up_and_moves_the_deadline(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    assert beat["interval_seconds"] == 3600  # its period
    before = await _state(api, beat["id"])
    for method in ("GET", "HEAD", "POST"):
        response = await api.anonymous.request(method, f"/ping/{beat['ping_key']}")
        assert response.status_code == 200
    ticks = await _ticks(api)
    assert [(t.region_id, t.status, t.error) for t in ticks] == [("push", Status.UP, None)] * 3
    after = await _state(api, beat["id"])
    assert after.last_ping_at is not None and after.down_at > before.down_at
    assert after.down_at - after.last_ping_at == timedelta(seconds=3600 + 3600)


async def test_a_posted_body_is_kept_up_to_10_kb(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    body = "line\n" * 3000  # 15,000 bytes
    response = await api.anonymous.post(f"/ping/{beat['ping_key']}", content=body)
    assert response.status_code == 200
    kept = (await _state(api, beat["id"])).last_body
    assert kept is not None and len(kept) == 10_240 and body.startswith(kept)


async def test_failures_and_exit_statuses(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    assert (await api.anonymous.get(f"/ping/{key}/fail")).status_code == 200
    assert (await api.anonymous.post(f"/ping/{key}/3")).status_code == 200
    assert (await api.anonymous.get(f"/ping/{key}/0")).status_code == 200
    assert (await api.anonymous.get(f"/ping/{key}/256")).status_code == 422
    assert (await api.anonymous.get(f"/ping/{key}/-1")).status_code == 422
    errors = [(t.status, t.error) for t in await _ticks(api)]
    assert errors == [
        (Status.DOWN, "heartbeat: failure reported"),
        (Status.DOWN, "heartbeat: exit status 3"),
        (Status.UP, None),
    ]
    assert (await _state(api, beat["id"])).last_exit_status == 0


async def test_run_times_go_from_start_to_success(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    key = beat["ping_key"]
    assert (await api.anonymous.get(f"/ping/{key}/start")).status_code == 200
    started = await _state(api, beat["id"])
    assert started.started_at is not None
    assert started.down_at == started.started_at + timedelta(seconds=3600)
    await asyncio.sleep(0.05)
    assert (await api.anonymous.get(f"/ping/{key}")).status_code == 200
    done = await _state(api, beat["id"])
    assert done.started_at is None
    assert done.last_run_ms is not None and done.last_run_ms >= 50
    (tick,) = await _ticks(api)
    assert tick.response_time_ms == done.last_run_ms


async def test_an_unknown_key_is_404_and_writes_nothing(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner)
    before = await _state(api, beat["id"])
    for path in (
        "/ping/nope",
        "/ping/nope/start",
        "/ping/nope/fail",
        "/ping/nope/0",
        "/ping/" + "x" * 65,
    ):
        response = await api.anonymous.post(path, content="hello")
        assert response.status_code in (404, 422), path
        assert "detail" in response.json()
    assert await _ticks(api) == []
    after = await _state(api, beat["id"])
    assert (after.down_at, after.last_ping_at, after.last_body) == (
        before.down_at,
        before.last_ping_at,
        before.last_body,
    )


async def test_silence_past_the_grace_is_down_once(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner, period_seconds=3600, grace_seconds=600)
    deadline = (await _state(api, beat["id"])).down_at
    engine = api.state.engine
    assert await record_silences(engine, deadline - timedelta(seconds=1)) == 0
    assert await record_silences(engine, deadline + timedelta(seconds=1)) == 1
    assert await record_silences(engine, deadline + timedelta(seconds=2)) == 0
    (tick,) = await _ticks(api)
    assert (tick.region_id, tick.status, tick.error) == (
        "push",
        Status.DOWN,
        "heartbeat: no ping in time",
    )
    # The next ping recovers it, and a later silence is reported again.
    assert (await api.anonymous.get(f"/ping/{beat['ping_key']}")).status_code == 200
    assert (await _state(api, beat["id"])).late is False


async def test_a_start_without_a_finish_is_down_and_says_so(api: Api, owner: Client) -> None:
    beat = await _heartbeat(owner, period_seconds=86_400, grace_seconds=600)
    assert (await api.anonymous.get(f"/ping/{beat['ping_key']}/start")).status_code == 200
    deadline = (await _state(api, beat["id"])).down_at
    assert deadline < datetime.now(UTC) + timedelta(seconds=601)
    assert await record_silences(api.state.engine, deadline + timedelta(seconds=1)) == 1
    (tick,) = await _ticks(api)
    assert tick.error == "heartbeat: started but did not finish"


async def test_the_late_loop_reports_in_real_time_and_a_ping_recovers(
    api: Api, owner: Client
) -> None:
    beat = await _heartbeat(owner)
    async with api.session() as session:
        await session.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id == uuid.UUID(beat["id"]))
            .values(down_at=datetime.now(UTC) + timedelta(seconds=0.5))
        )
        await session.commit()
    stop = asyncio.Event()
    loop = asyncio.create_task(watch_heartbeats(api.state.engine, stop, 0.1))
    try:
        for _ in range(100):
            if await _ticks(api):
                break
            await asyncio.sleep(0.05)
        (down,) = await _ticks(api)
        assert down.status is Status.DOWN
        assert (await api.anonymous.get(f"/ping/{beat['ping_key']}")).status_code == 200
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)
    async with api.session() as session:
        status = await session.scalar(
            select(WebsiteStatus.status).where(WebsiteStatus.website_id == uuid.UUID(beat["id"]))
        )
        count = await session.scalar(select(func.count()).select_from(WebsiteTick))
    assert (status, count) == (Status.UP, 2)
