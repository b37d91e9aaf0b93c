"""A real `betteruptime serve` logs events, not SQL: quiet at INFO, SQL without values at DEBUG.

The website is checked every second against a local server, so the pusher and the worker
go round many times while the output is watched. The watched window is 15 s by default;
QUIET_WINDOW_SECONDS=60 makes it the README's idle minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from alembic.script import ScriptDirectory

from betteruptime.db.migrate import alembic_config
from tests.pipeline.helpers import (
    Targets,
    free_port,
    http_targets,
    spawn,
    stop_process,
    wait_for,
    wait_for_serve,
)

QUIET_WINDOW_SECONDS = float(os.environ.get("QUIET_WINDOW_SECONDS", "15"))
PASSWORD = "quiet-logs-password-4Tx9"
SQL_LOGGERS = ("sqlalchemy", "aiosqlite", "alembic")


@dataclass
class Served:
    api: httpx.AsyncClient
    log: Path
    url: str  # the checked website's URL, which the database receives as a bound value
    website_id: str

    async def tick_count(self) -> int:
        """Return how many checks of the website are stored (up to 100)."""
        reply = await self.api.get(f"/website/{self.website_id}/ticks", params={"limit": 100})
        assert reply.status_code == 200, reply.text
        return len(reply.json()["items"])


@asynccontextmanager
async def serving(tmp_path: Path, log_level: str) -> AsyncIterator[Served]:
    """Run `serve` at log_level with one website checked every second, its first tick in."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": log_level,
        "ALLOW_PRIVATE_TARGETS": "true",
        "MIN_INTERVAL_SECONDS": "1",
    }
    proc = spawn(["serve", "--port", str(port)], env, log, cwd=tmp_path)
    try:
        async with (
            http_targets() as targets,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api,
        ):
            # Start-up (imports, migrations) has its own budget, apart from the first check's.
            await wait_for_serve(proc, log, f"http://127.0.0.1:{port}")
            served = await _set_up(api, targets, log)
            yield served
    finally:
        code = await stop_process(proc)
        assert code == 0, log.read_text()


async def _set_up(api: httpx.AsyncClient, targets: Targets, log: Path) -> Served:
    user = {"username": "quiet", "email": "quiet@example.com", "password": PASSWORD}
    reply = await api.post("/user/register", json=user)
    assert reply.status_code == 201, reply.text
    api.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    url = targets.url(f"/quiet-{uuid.uuid4().hex}")
    website = {"url": url, "interval_seconds": 1, "timeout_seconds": 1}
    reply = await api.post("/website", json=website)
    assert reply.status_code == 201, reply.text
    served = Served(api, log, url, reply.json()["id"])

    async def checked() -> bool:
        return await served.tick_count() > 0

    await wait_for(checked, 15, "the first check to be stored")
    return served


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_idle_serve_prints_nothing_after_start_up_at_info(tmp_path: Path) -> None:
    async with serving(tmp_path, "INFO") as served:
        start_up = served.log.read_text()
        ticks_before = await served.tick_count()
        await asyncio.sleep(QUIET_WINDOW_SECONDS)
        ticks_after = await served.tick_count()
        during = served.log.read_text()[len(start_up) :]

    # The loops were busy all along: about one check a second was stored.
    assert ticks_after - ticks_before >= QUIET_WINDOW_SECONDS / 3
    assert during == "", f"printed while idle:\n{during}"
    # Start-up said what matters (the schema migrated, the components started), no SQL.
    events = [line["event"] for line in _lines(start_up)]
    assert {"serving", "pusher started", "worker started"} <= set(events)
    from_libraries = [
        line["event"]
        for line in _lines(start_up)
        if str(line.get("logger", "")).startswith(SQL_LOGGERS)
    ]
    assert from_libraries == _alembic_upgrade_lines()


def _alembic_upgrade_lines() -> list[str]:
    """Return Alembic's one INFO line per revision, base first, as an empty database logs."""
    script = ScriptDirectory.from_config(alembic_config())
    return [
        f"Running upgrade {rev.down_revision or ''} -> {rev.revision}, {rev.doc}"
        for rev in reversed(list(script.walk_revisions()))
    ]


async def test_debug_shows_sql_but_never_its_values(tmp_path: Path) -> None:
    async with serving(tmp_path, "DEBUG") as served:

        async def a_few_rounds() -> bool:
            return await served.tick_count() >= 3

        await wait_for(a_few_rounds, 20, "three checks to be stored")
        text = served.log.read_text()

    lines = _lines(text)
    sql = [line for line in lines if str(line.get("logger", "")).startswith(SQL_LOGGERS)]
    statements = " ".join(line["event"] for line in sql)
    # The statements that received the URL and the password hash as values are there...
    assert "INSERT INTO website " in statements
    assert "INSERT INTO users " in statements
    assert "SQL parameters hidden" in statements
    # ...but no value bound to any statement, nor a result row, is.
    for line in sql:
        assert served.url not in json.dumps(line), line
        assert "$argon2" not in json.dumps(line), line
    assert PASSWORD not in text
    # The per-round lines moved to DEBUG, they were not lost.
    events = {line["event"] for line in lines}
    assert {"jobs pushed", "batch written"} <= events
