"""A real `betteruptime alerter` killed with SIGKILL mid-send loses no notification."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.models import Channel, WebsiteChannel
from betteruptime.notify.crypto import ChannelCipher
from tests.alerting.helpers import deliveries, open_incident
from tests.notify.receivers import webhooks
from tests.pipeline.helpers import (
    create_user,
    create_websites,
    spawn,
    stop_process,
    wait_for,
    wait_for_log,
)


async def test_sigkill_mid_send_then_restart_delivers(
    pg_engine: AsyncEngine, fresh_postgres_url: str, tmp_path: Path
) -> None:
    key = Fernet.generate_key().decode()
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "CHANNEL_KEY": key,
        "ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on loopback
        "NOTIFY_TIMEOUT_SECONDS": "5",
        "NOTIFY_LEASE_SECONDS": "6",
        "NOTIFY_POLL_SECONDS": "0.1",
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
    }
    owner = await create_user(pg_engine)
    [site] = await create_websites(pg_engine, owner, ["https://shop.example.com/"])
    async with webhooks() as hooks:
        channel = uuid.uuid4()
        async with pg_engine.begin() as conn:
            await conn.execute(
                insert(Channel).values(
                    id=channel,
                    owner_id=owner,
                    name="hook",
                    url_encrypted=ChannelCipher([key]).encrypt(hooks.url("json", "/hook")),
                    scheme="json",
                )
            )
            await conn.execute(insert(WebsiteChannel).values(website_id=site, channel_id=channel))
        hooks.hold = asyncio.Event()  # the receiver keeps the request open
        await open_incident(pg_engine, site)

        first = spawn(["alerter"], env, tmp_path / "first.log")
        try:
            # Start-up has its own budget; the 30 s below are for the send alone.
            await wait_for_log(first, tmp_path / "first.log", '"notifier started"')
            await asyncio.wait_for(hooks.arrived.wait(), 30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        [row] = await deliveries(pg_engine)
        assert (row["state"], row["attempts"], row["log"]) == ("pending", 1, [])

        hooks.hold.set()  # whatever the dead sender left half-sent may now land too
        hooks.hold = None
        second = spawn(["alerter"], env, tmp_path / "second.log")
        try:
            await wait_for_log(second, tmp_path / "second.log", '"notifier started"')

            async def delivered() -> bool:
                return bool((await deliveries(pg_engine))[0]["state"] == "delivered")

            await wait_for(delivered, 30, "the restarted alerter to deliver")
        finally:
            assert await stop_process(second) == 0
    [row] = await deliveries(pg_engine)
    assert row["attempts"] == 2
    assert [a["ok"] for a in row["log"]] == [True]
    titles = [r.json["title"] for r in hooks.on("/hook")]
    assert titles and set(titles) == {"DOWN: https://shop.example.com/"}  # duplicates allowed
    log = (tmp_path / "second.log").read_text()
    assert "notification sent" in log
    assert "/hook" not in log and key not in log
