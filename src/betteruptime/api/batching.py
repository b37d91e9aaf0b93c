"""Group commit: items from concurrent requests written together, each request answered
only once the batch holding its item is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Hands submitted items to one writer, all that are waiting at once, one batch at a time.

    There is no timer: while a batch is being written the next one gathers, so a lone item
    is written at once and under load each batch holds what arrived during the last write.
    """

    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Return the writer's result for item once its batch is written (or raise its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write_one(batch)
        finally:
            self._writer = None

    async def _write_one(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except BaseException as exc:
            # Every request of the batch gets the error (a 503 when the database is away);
            # none is answered as if its item were stored. A cancelled writer (shutdown)
            # cancels them rather than leave them waiting.
            for _, future in batch:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            # A request cancelled while waiting (its client went away) has no one to tell;
            # its item is stored all the same.
            if not future.done():
                future.set_result(result)
