"""Acceptance 6: `betteruptime serve` in an empty folder, no environment, reports UP in seconds."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from tests.pipeline.helpers import (
    free_port,
    http_targets,
    spawn,
    stop_process,
    wait_for,
    wait_for_serve,
)


async def test_serve_checks_a_website_added_through_the_api(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "empty"
    folder.mkdir()
    log = tmp_path / "serve.log"
    proc = spawn(
        ["serve", "--port", str(port)],
        {"ALLOW_PRIVATE_TARGETS": "true", "RECHECK_SECONDS": "1"},
        log,
        cwd=folder,
    )
    try:
        async with (
            http_targets() as targets,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as api,
        ):
            # Start-up (imports, migrations) has its own budget: the 5 s below are for the
            # check alone, which the product promises, not for a slow start on a busy CPU.
            await wait_for_serve(proc, log, f"http://127.0.0.1:{port}")
            reply = await api.post(
                "/user/register",
                json={"username": "carol", "email": "carol@example.com", "password": "pw-123456!"},
            )
            assert reply.status_code == 201, reply.text
            api.headers["Authorization"] = f"Bearer {reply.json()['token']}"
            reply = await api.post(
                "/website", json={"url": targets.url("/up"), "interval_seconds": 10}
            )
            assert reply.status_code == 201, reply.text
            website_id = reply.json()["id"]
            started = asyncio.get_running_loop().time()

            async def reported_up() -> bool:
                body = (await api.get(f"/status/{website_id}")).json()
                return bool(body["status"] == "UP" and body["regions"][0]["region_id"] == "local")

            await wait_for(reported_up, 5, "GET /status to report UP")
            assert asyncio.get_running_loop().time() - started < 5
            assert targets.hits["/up"] >= 1
            # Statistics count the check at once: the hour in progress is read raw.
            stats = (await api.get(f"/website/{website_id}/stats")).json()
            assert stats["checks"] >= 1
            assert stats["regions"][0]["region_id"] == "local"

            # A failing site: the recheck a second after the first failure confirms it,
            # and the alerter inside serve opens the incident that makes it DOWN.
            reply = await api.post(
                "/website", json={"url": targets.url("/down"), "interval_seconds": 10}
            )
            assert reply.status_code == 201, reply.text
            down_id = reply.json()["id"]

            async def reported_down() -> bool:
                body = (await api.get(f"/status/{down_id}")).json()
                return bool(body["status"] == "DOWN" and body["incident"] is not None)

            await wait_for(reported_down, 15, "an incident for the failing site")
            incidents = (await api.get("/incidents")).json()["items"]
            assert [(i["website_id"], i["state"]) for i in incidents] == [(down_id, "open")]
            assert incidents[0]["cause"]["regions"] == ["local"]
    finally:
        code = await stop_process(proc)
    output = log.read_text()
    assert code == 0, output
    assert (folder / "data" / "betteruptime.db").exists()
    assert '"queue": "LocalQueue"' in output
    assert '"worker stopped"' in output
    assert '"evaluator stopped"' in output
    # serve also runs housekeeping (retention, rollups) in the same process.
    assert '"housekeeping started"' in output
    assert '"housekeeping stopped"' in output
    with sqlite3.connect(folder / "data" / "betteruptime.db") as db:
        assert db.execute("SELECT rolled_until FROM rollup_progress").fetchone()[0] is not None
