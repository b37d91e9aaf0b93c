"""GET /incidents/{id}: each event lists its notifications and every attempt to send them."""

from __future__ import annotations

import uuid

from betteruptime.alerting.notifier import Notifier, NotifierConfig
from betteruptime.checks.targets import TargetPolicy
from betteruptime.notify.sender import Sender
from tests.alerting.helpers import add_event, open_incident
from tests.api.conftest import AppFactory, create_website
from tests.notify.receivers import webhooks
from tests.pipeline.helpers import free_port


async def test_timeline_shows_deliveries_with_their_attempts(start_api: AppFactory) -> None:
    async with start_api(allow_private_targets=True) as api, webhooks() as hooks:
        owner = await api.make_user("owner")
        good = (
            await owner.post("/channels", json={"name": "hook", "url": hooks.url("json", "/ok")})
        ).json()
        dead_url = f"json://127.0.0.1:{free_port()}/secret-path"
        dead = (await owner.post("/channels", json={"name": "dead", "url": dead_url})).json()
        site = await create_website(owner, "https://shop.example.com/")
        assert sorted(site["channel_ids"]) == sorted([good["id"], dead["id"]])
        engine = api.state.engine
        incident = await open_incident(engine, uuid.UUID(site["id"]))
        before = (await owner.get(f"/incidents/{incident}")).json()
        assert [e["deliveries"] for e in before["events"]] == [[]]  # not fanned out yet
        notifier = Notifier(
            engine,
            Sender(TargetPolicy(allow_private=True), timeout=5, concurrency=4),
            api.state.cipher,
            NotifierConfig(public_url="http://x", max_attempts=1),
        )
        await notifier.drain()
        await add_event(engine, incident, "resolved")
        await notifier.drain()
        body = (await owner.get(f"/incidents/{incident}")).json()
        other = await api.make_user("other")
        assert (await other.get(f"/incidents/{incident}")).status_code == 404
    assert [e["kind"] for e in body["events"]] == ["opened", "resolved"]
    for event in body["events"]:
        by_name = {d["channel_name"]: d for d in event["deliveries"]}
        assert set(by_name) == {"hook", "dead"}
        ok, failed = by_name["hook"], by_name["dead"]
        assert (ok["state"], ok["attempts"], ok["last_error"]) == ("delivered", 1, None)
        assert ok["delivered_at"] is not None and ok["next_attempt_at"] is None
        assert [a["ok"] for a in ok["log"]] == [True]
        assert ok["log"][0]["elapsed_ms"] >= 0
        assert (failed["state"], failed["attempts"]) == ("failed", 1)
        assert failed["channel_scheme"] == "json"
        assert [a["ok"] for a in failed["log"]] == [False]
        assert "connection" in failed["log"][0]["error"].lower()
    assert "secret-path" not in str(body)
    assert len(hooks.on("/ok")) == 2
