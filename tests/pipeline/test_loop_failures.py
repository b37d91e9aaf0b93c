"""Invariant 5 with real processes: a loop that ends unexpectedly ends its process, non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.targets import TargetPolicy
from betteruptime.queue.base import CheckJob
from betteruptime.queue.redis_streams import RedisStreamQueue
from betteruptime.rules.checks import CheckKind
from betteruptime.worker.consumer import Worker, WorkerConfig
from betteruptime.worker.metrics import WorkerMetrics
from tests.pipeline.helpers import (
    START_SECONDS,
    free_port,
    spawn,
    stop_process,
    wait_for,
    wait_for_log,
)

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"


def start_faulty(
    fault: str, args: list[str], env: dict[str, str], log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `betteruptime ARGS` with the fault built in (see faulty_process.py)."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONPATH": str(REPO),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.pipeline.faulty_process", fault, *args],
            env={**base, **env},
            stdout=out,
            stderr=out,
            cwd=cwd,
        )


async def exit_code(
    proc: subprocess.Popen[bytes], timeout: float = START_SECONDS + 30
) -> int | None:
    """Return the exit status once the process ends by itself (None after timeout)."""
    # The process must start before its loop can fail: the budget covers both.
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return proc.poll()


def failure_lines(log: Path) -> list[dict[str, str]]:
    """Return the log lines that report a loop ending unexpectedly."""
    lines = []
    for raw in log.read_text().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("event") == "loop ended unexpectedly; stopping":
            lines.append(line)
    return lines


@pytest.fixture
def env(
    pg_engine: AsyncEngine, fresh_postgres_url: str, redis_url: str, redis_prefix: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{redis_prefix}Websites",
        "REGION_ID": REGION,
        "WORKER_ID": "w1",
        # Claims every second, so a failing claim shows quickly; timeouts stay below it.
        "MAX_TIMEOUT_SECONDS": "1",
        "DEFAULT_TIMEOUT_SECONDS": "1",
        "CLAIM_IDLE_SECONDS": "2",
        "LOG_LEVEL": "INFO",
    }


async def publish_stale_job(env: dict[str, str]) -> None:
    """Put one job past its deadline on the stream: the worker acknowledges it unchecked."""
    queue = RedisStreamQueue.from_url(env["REDIS_URL"], env["STREAM_KEY"])
    past = datetime.now(UTC) - timedelta(minutes=5)
    job = CheckJob(uuid.uuid4(), "http://127.0.0.1:9/", 1.0, 60, past, past + timedelta(minutes=1))
    try:
        await queue.publish([job])
    finally:
        await queue.close()


@pytest.mark.parametrize(
    ("fault", "command", "loop"),
    [
        ("read", "worker", "read"),
        ("ack", "worker", "write"),
        ("claim_idle", "worker", "recovery"),
        ("trim", "pusher", "pusher"),
        ("evaluate", "alerter", "evaluate"),
        ("time", "alerter", "time rules"),
    ],
)
async def test_a_failing_loop_ends_its_process_with_status_1(
    env: dict[str, str], tmp_path: Path, fault: str, command: str, loop: str
) -> None:
    if fault == "ack":
        await publish_stale_job(env)
    log = tmp_path / "out.log"
    proc = start_faulty(fault, [command], env, log, tmp_path)
    try:
        code = await exit_code(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 1, output
    (line,) = failure_lines(log)
    assert line["loop"] == loop, output
    assert line["level"] == "error"
    assert f"injected fault in {fault}" in line["error"]
    if command == "worker":
        assert '"worker stopped"' in output  # the other loops drained first
    if command == "alerter":
        assert '"evaluator stopped"' in output  # the other loop stopped first


@pytest.mark.parametrize(("fault", "loop"), [("api", "api"), ("read", "read")])
async def test_serve_ends_with_status_1_when_one_of_its_loops_fails(
    tmp_path: Path, fault: str, loop: str
) -> None:
    log = tmp_path / "serve.log"
    port = str(free_port())
    proc = start_faulty(fault, ["serve", "--port", port], {}, log, tmp_path)
    try:
        code = await exit_code(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 1, output
    (line,) = failure_lines(log)
    assert line["loop"] == loop, output


async def test_pusher_stopped_by_sigterm_exits_0(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "pusher.log"
    proc = spawn(["pusher"], env, log)
    try:
        await wait_for_log(proc, log, '"pusher started"')
        await asyncio.sleep(0.5)
    finally:
        code = await stop_process(proc)
    assert code == 0, log.read_text()
    assert failure_lines(log) == []
    assert '"pusher stopped"' in log.read_text()


async def test_a_cancelled_worker_ends_all_its_loops(
    pg_engine: AsyncEngine, redis_url: str, redis_prefix: str
) -> None:
    key = f"{redis_prefix}Websites"
    queue = RedisStreamQueue.from_url(redis_url, key)
    checker = HttpChecker(TargetPolicy(allow_private=True))
    stop = asyncio.Event()
    worker = Worker(
        pg_engine,
        queue,
        {CheckKind.HTTP: checker},
        WorkerConfig(region_id=REGION, worker_id="w1"),
        WorkerMetrics(CollectorRegistry()),
    )
    task = asyncio.create_task(worker.run(stop))
    try:

        async def reading() -> bool:
            return bool(await queue.client.exists(key))

        # Start-up only (region, group): what is timed here is the cancel below.
        await wait_for(reading, START_SECONDS, "the worker to create its group")
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert stop.is_set()
    finally:
        await queue.close()
        await checker.close()
