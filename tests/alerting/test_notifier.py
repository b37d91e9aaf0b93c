"""The notifier against real receivers: once per channel, retries, failures, leases, SSRF."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.targets import TargetPolicy
from betteruptime.db.outbox import claim_due, fan_out
from betteruptime.db.session import create_sessionmaker
from tests.alerting.helpers import (
    PUBLIC_URL,
    add_channel,
    add_event,
    deliveries,
    notifier,
    open_incident,
    unfanned,
)
from tests.checks.servers import RecordingServer
from tests.notify.receivers import mailbox, webhooks
from tests.pipeline.helpers import create_user, create_websites, free_port


async def test_one_event_reaches_every_channel_exactly_once(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    async with webhooks() as hooks, mailbox() as box:
        await add_channel(engine, owner, hooks.url("json", "/json"), [site])
        await add_channel(engine, owner, hooks.url("form", "/form"), [site])
        await add_channel(engine, owner, box.url(), [site])
        incident = await open_incident(engine, site)
        n = notifier(engine)
        await n.drain()
        await n.drain()  # nothing left: a second pass sends nothing more
        await notifier(engine).drain()  # nor does another notifier
    [j] = hooks.on("/json")
    [f] = hooks.on("/form")
    [mail] = box.texts()
    assert box.messages[0]["Subject"] == "DOWN: https://shop.example.com/"
    assert j.json["title"] == "DOWN: https://shop.example.com/"
    assert j.json["type"] == "failure"
    for text in (j.json["message"], f.form["message"], mail):
        assert "https://shop.example.com/" in text
        assert "HTTP 503" in text
        assert "eu-west-1, us-east-1" in text
        assert f"{PUBLIC_URL}/incidents/{incident}" in text
    rows = await deliveries(engine)
    assert [r["state"] for r in rows] == ["delivered"] * 3
    assert all(len(r["log"]) == 1 and r["log"][0]["ok"] for r in rows)
    assert await unfanned(engine) == 0


async def test_recovery_sends_one_up_message_with_the_duration(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    async with webhooks() as hooks:
        await add_channel(engine, owner, hooks.url(), [site])
        incident = await open_incident(engine, site, started_ago=timedelta(minutes=3, seconds=5))
        await add_event(engine, incident, "resolved")
        await notifier(engine).drain()
    down, up = sorted(hooks.requests, key=lambda r: r.json["title"])
    assert down.json["title"].startswith("DOWN")
    assert up.json["title"] == "UP: https://shop.example.com/"
    assert up.json["type"] == "success"
    assert "is up again after 3m 5s" in up.json["message"]


async def test_a_website_without_channels_fans_out_to_nothing(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://quiet.example.com/"])
    await open_incident(engine, site)
    await notifier(engine).drain()
    assert await unfanned(engine) == 0
    assert await deliveries(engine) == []


async def test_dead_channel_is_retried_then_recorded_failed(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    await add_channel(engine, owner, f"json://127.0.0.1:{free_port()}/hook", [site])
    await open_incident(engine, site)
    n = notifier(engine, max_attempts=3, retry_seconds=0.1)
    for _ in range(40):
        await n.drain()
        if (await deliveries(engine))[0]["state"] != "pending":
            break
        await asyncio.sleep(0.1)
    [row] = await deliveries(engine)
    assert row["state"] == "failed"
    assert row["attempts"] == 3
    assert [a["ok"] for a in row["log"]] == [False, False, False]
    assert all("connection" in a["error"].lower() for a in row["log"])
    assert row["last_error"] == row["log"][-1]["error"]
    # Each retry waited its backoff: attempts are spread, not back to back.
    gaps = [(b["at"] - a["at"]).total_seconds() for a, b in pairwise(row["log"])]
    assert gaps[0] >= 0.08 and gaps[1] >= 0.16, gaps


async def test_blocked_target_records_a_failed_attempt_and_sends_nothing(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    listener = await RecordingServer("127.0.0.1").start()
    try:
        # 169.254.169.254 is routed nowhere here: the guard refuses before any packet leaves.
        await add_channel(engine, owner, "json://169.254.169.254/latest/meta-data", [site])
        await add_channel(engine, owner, f"json://127.0.0.1:{listener.port}/hook", [site])
        await open_incident(engine, site)
        await notifier(engine, policy=TargetPolicy(), max_attempts=1).drain()
        blocked = [r["log"][0]["error"] for r in await deliveries(engine)]
        assert sorted(blocked) == [
            "blocked: refused to connect to cloud metadata address 169.254.169.254",
            "blocked: refused to connect to loopback address 127.0.0.1",
        ]
        assert listener.connections == []
    finally:
        await listener.stop()


async def test_with_private_targets_allowed_the_local_receiver_gets_it(
    engine: AsyncEngine,
) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    listener = await RecordingServer("127.0.0.1").start()
    try:
        await add_channel(engine, owner, f"json://127.0.0.1:{listener.port}/hook", [site])
        await open_incident(engine, site)
        await notifier(engine, policy=TargetPolicy(allow_private=True)).drain()
        assert len(listener.connections) == 1
        [row] = await deliveries(engine)
        assert row["state"] == "delivered"
    finally:
        await listener.stop()


async def test_a_lease_left_by_a_dead_notifier_is_taken_over(engine: AsyncEngine) -> None:
    owner = await create_user(engine)
    [site] = await create_websites(engine, owner, ["https://shop.example.com/"])
    async with webhooks() as hooks:
        await add_channel(engine, owner, hooks.url(), [site])
        await open_incident(engine, site)
        # A notifier fans out and leases the delivery, then dies before sending.
        sessions = create_sessionmaker(engine)
        now = datetime.now(UTC)
        async with sessions() as session:
            assert await fan_out(session, 10, now) == 1
        async with sessions() as session:
            [claimed] = await claim_due(session, 10, now, timedelta(seconds=1))
        assert claimed.attempts == 1
        live = notifier(engine)
        await live.drain()
        assert hooks.requests == []  # still leased
        await asyncio.sleep(1.1)
        await live.drain()
    [row] = await deliveries(engine)
    assert row["state"] == "delivered"
    assert row["attempts"] == 2
    assert len(hooks.requests) == 1


@pytest.mark.postgres
async def test_concurrent_notifiers_send_each_delivery_once(pg_engine: AsyncEngine) -> None:
    owner = await create_user(pg_engine)
    sites = await create_websites(
        pg_engine, owner, [f"https://s{i}.example.com/" for i in range(40)]
    )
    async with webhooks() as hooks:
        await add_channel(pg_engine, owner, hooks.url(), sites)
        for site in sites:
            await open_incident(pg_engine, site)
        await asyncio.gather(*(notifier(pg_engine).drain() for _ in range(3)))
    assert len(hooks.requests) == 40
    assert len({r.json["message"] for r in hooks.requests}) == 40
    assert all(r["state"] == "delivered" for r in await deliveries(pg_engine))
