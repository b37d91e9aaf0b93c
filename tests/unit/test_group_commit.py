"""Group commit: concurrent items share a write, and no one is answered before it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from betteruptime.api.batching import GroupCommit


class Store:
    """A writer that records its batches and can be held mid-write."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.committed: set[int] = set()
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_on: int | None = None

    async def write(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_on in items:
            raise RuntimeError("database away")
        self.committed.update(items)
        return [i * 10 for i in items]


async def test_items_that_arrive_during_a_write_share_the_next_one() -> None:
    store = Store()
    store.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(store.write)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.01)
    # A lone item is written at once, without waiting for company.
    assert store.batches == [[0]]
    rest = [asyncio.create_task(group.submit(i)) for i in range(1, 100)]
    await asyncio.sleep(0.01)
    store.gate.set()
    results = await asyncio.gather(first, *rest)
    assert results == [i * 10 for i in range(100)]
    assert store.batches == [[0], list(range(1, 100))]


async def test_no_item_is_answered_before_its_batch_is_written() -> None:
    store = Store()
    store.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(store.write)
    waiting = [asyncio.create_task(group.submit(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    assert store.batches == [[0, 1, 2, 3, 4]]
    assert not any(task.done() for task in waiting)
    store.gate.set()
    assert await asyncio.gather(*waiting) == [0, 10, 20, 30, 40]
    assert store.committed == {0, 1, 2, 3, 4}


async def test_a_failed_batch_fails_its_items_only() -> None:
    store = Store()
    store.gate.clear()
    store.fail_on = 2
    group: GroupCommit[int, int] = GroupCommit(store.write)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.01)
    failing = [asyncio.create_task(group.submit(i)) for i in (1, 2, 3)]
    await asyncio.sleep(0.01)
    store.gate.set()
    assert await first == 0
    for task in failing:
        with pytest.raises(RuntimeError, match="database away"):
            await task
    # The writer carries on with the next batch.
    assert await group.submit(4) == 40
    assert store.batches == [[0], [1, 2, 3], [4]]


async def test_batches_are_capped() -> None:
    store = Store()
    store.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(store.write, max_batch=3)
    waiting = [asyncio.create_task(group.submit(i)) for i in range(8)]
    await asyncio.sleep(0.01)
    store.gate.set()
    await asyncio.gather(*waiting)
    assert store.batches == [[0, 1, 2], [3, 4, 5], [6, 7]]


async def test_a_request_that_gives_up_does_not_stop_the_others() -> None:
    store = Store()
    store.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(store.write)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.01)
    quitter = asyncio.create_task(group.submit(1))
    stayer = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0.01)
    quitter.cancel()
    store.gate.set()
    assert (await first, await stayer) == (0, 20)
    # Its item was accepted before it left: it is stored all the same.
    assert store.committed == {0, 1, 2}
