"""`betteruptime` with one fault built in: a queue method or the web app that fails.

Run as `python -m tests.pipeline.faulty_process FAULT COMMAND [ARGS...]`, where FAULT is a
CheckQueue method name (read, ack, claim_idle, trim …), which then raises RuntimeError,
`api`, whose application fails its start-up, or `evaluate` / `time`, whose evaluator loop
(queued websites, time rules) raises. Everything else is the real command.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import betteruptime.app
from betteruptime import cli
from betteruptime.alerting.evaluator import Evaluator
from betteruptime.config import Settings
from betteruptime.queue.base import CheckQueue
from betteruptime.runtime import processes


def failing_queues(method: str) -> None:
    """Make every queue the process creates raise RuntimeError from method."""
    real = processes.make_queue

    async def fail(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"injected fault in {method}")

    def make_queue(settings: Settings) -> CheckQueue:
        queue = real(settings)
        base = type(queue)
        # A real subclass of the real queue, with one method replaced.
        queue.__class__ = type(f"Faulty{base.__name__}", (base,), {method: fail})
        return queue

    processes.make_queue = make_queue


def failing_evaluator(fault: str) -> None:
    """Make the evaluator's queue loop (evaluate) or its time rules (time) raise a bug."""

    async def fail(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"injected fault in {fault}")

    name = "evaluate_queued" if fault == "evaluate" else "judge_regions"
    setattr(Evaluator, name, fail)


def failing_app() -> None:
    """Make the web application fail its start-up, so uvicorn's server ends by itself."""

    def create_app(*args: Any, **kwargs: Any) -> Callable[..., Awaitable[None]]:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                await receive()
                await send({"type": "lifespan.startup.failed", "message": "injected fault"})

        return app

    betteruptime.app.create_app = create_app  # type: ignore[assignment]


if __name__ == "__main__":
    fault, args = sys.argv[1], sys.argv[2:]
    if fault == "api":
        failing_app()
    elif fault in {"evaluate", "time"}:
        failing_evaluator(fault)
    else:
        failing_queues(fault)
    cli.main(args)
