"""The housekeeping loop: steps run on their own periods, and one failing step stops no other."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from betteruptime.scheduler.housekeeping import Housekeeping, Step, _worth_logging

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


async def test_run_once_runs_every_step_with_the_clock_and_returns_results() -> None:
    seen: list[tuple[str, datetime]] = []

    def step(name: str) -> Step:
        async def run(now: datetime) -> str:
            seen.append((name, now))
            return name.upper()

        return Step(name, 60, run)

    loop = Housekeeping([step("a"), step("b")], clock=lambda: NOW)
    assert await loop.run_once() == {"a": "A", "b": "B"}
    assert seen == [("a", NOW), ("b", NOW)]


def test_step_names_are_unique() -> None:
    async def run(now: datetime) -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        Housekeeping([Step("a", 1, run), Step("a", 1, run)])


async def test_a_failing_step_is_retried_while_the_others_keep_their_period() -> None:
    runs = {"fast": 0, "broken": 0}
    stop = asyncio.Event()

    async def fast(now: datetime) -> int:
        runs["fast"] += 1
        return 0

    async def broken(now: datetime) -> None:
        runs["broken"] += 1
        raise RuntimeError("database went away")

    loop = Housekeeping([Step("fast", 0.05, fast), Step("broken", 0.05, broken)])
    task = asyncio.create_task(loop.run(stop))
    # Polled, not slept: on a starved machine a fixed sleep may see too few runs.
    async with asyncio.timeout(10):
        while runs["fast"] < 10 or runs["broken"] < 2:
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    # Retried with a backoff starting at 1 s: at least once more, far fewer than fast.
    assert 2 <= runs["broken"] < runs["fast"]


async def test_a_slow_step_does_not_hold_up_another() -> None:
    stop = asyncio.Event()
    quick_runs = 0

    async def slow(now: datetime) -> None:
        await asyncio.Event().wait()  # in its first run until the stop cancels it

    async def quick(now: datetime) -> None:
        nonlocal quick_runs
        quick_runs += 1

    task = asyncio.create_task(
        Housekeeping([Step("slow", 10, slow), Step("quick", 0.02, quick)]).run(stop)
    )
    # Polled, not slept: on a starved machine a fixed sleep may see too few runs.
    async with asyncio.timeout(10):
        while quick_runs < 5:
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_stop_ends_a_long_sleep_at_once() -> None:
    stop = asyncio.Event()

    async def noop(now: datetime) -> None:
        return None

    task = asyncio.create_task(Housekeeping([Step("hourly", 3600, noop)]).run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_stop_cancels_a_step_in_progress_and_lets_it_clean_up() -> None:
    stop = asyncio.Event()
    events: list[str] = []
    runs = {"quick": 0}

    async def endless(now: datetime) -> None:
        events.append("started")
        try:
            await asyncio.Event().wait()  # a statement that would run for minutes
        finally:
            await asyncio.sleep(0.01)  # cleanup may await (a connection back to the pool)
            events.append("cleaned up")

    async def quick(now: datetime) -> None:
        runs["quick"] += 1

    steps = [Step("endless", 60, endless), Step("quick", 0.02, quick)]
    task = asyncio.create_task(Housekeeping(steps).run(stop))
    # Polled, not slept: on a starved machine a fixed sleep may see too few runs.
    async with asyncio.timeout(10):
        while runs["quick"] < 3:
            await asyncio.sleep(0.01)
    assert events == ["started"]
    stop.set()
    await asyncio.wait_for(task, 1)
    assert events == ["started", "cleaned up"]


async def test_a_step_cancelled_from_outside_is_cancelled_too() -> None:
    cancelled = asyncio.Event()

    async def endless(now: datetime) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(Housekeeping([Step("endless", 60, endless)]).run(asyncio.Event()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    assert cancelled.is_set()


@dataclass
class _Result:
    hours: int
    days: int


@pytest.mark.parametrize(
    ("result", "logged"),
    [(None, False), (0, False), (_Result(0, 0), False), (_Result(1, 0), True), ("x", True)],
)
def test_only_results_that_did_something_are_logged(result: object, logged: bool) -> None:
    assert _worth_logging(result) is logged
