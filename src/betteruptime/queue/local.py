"""An in-process CheckQueue with the Redis stream's semantics, for `betteruptime serve`."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from betteruptime.queue.base import CheckJob, Claimed, Delivery, GroupMissing, TrimResult


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass(slots=True)
class _Group:
    last_delivered: tuple[int, int] = (0, 0)
    # Insertion order is id order: new entries are delivered in id order and claims
    # update entries in place, so the first key is always the oldest pending id.
    pending: dict[tuple[int, int], _Pending] = field(default_factory=dict)


class LocalQueue:
    """Stream, groups, pending entries, acks, claims and trims, kept in this process.

    Everything is lost when the process exits, which is fine for embedded mode: the
    pusher schedules the next check of every website from the database anyway.
    """

    def __init__(self) -> None:
        self._ids: list[tuple[int, int]] = []
        self._jobs: dict[tuple[int, int], CheckJob] = {}
        self._groups: dict[str, _Group] = {}
        self._last_id: tuple[int, int] = (0, 0)
        self._appended = asyncio.Condition()

    def _next_id(self) -> tuple[int, int]:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last_id
        self._last_id = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return self._last_id

    async def publish(self, jobs: Sequence[CheckJob]) -> list[str]:
        ids = []
        for job in jobs:
            mid = self._next_id()
            self._ids.append(mid)
            self._jobs[mid] = job
            ids.append(_fmt(mid))
        if jobs:
            async with self._appended:
                self._appended.notify_all()
        return ids

    async def ensure_group(self, group: str) -> bool:
        if group in self._groups:
            return False
        self._groups[group] = _Group()
        return True

    def _group(self, group: str) -> _Group:
        try:
            return self._groups[group]
        except KeyError:
            raise GroupMissing(f"NOGROUP no such consumer group {group!r}") from None

    async def read(self, group: str, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        g = self._group(group)
        out = self._take_new(g, consumer, count)
        if out or block_ms <= 0:
            return out
        deadline = time.monotonic() + block_ms / 1000
        async with self._appended:
            while not out:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._appended.wait(), remaining)
                out = self._take_new(self._group(group), consumer, count)
        return out

    def _take_new(self, g: _Group, consumer: str, count: int) -> list[Delivery]:
        start = bisect.bisect_right(self._ids, g.last_delivered)
        taken = self._ids[start : start + count]
        now = time.monotonic()
        out = []
        for mid in taken:
            g.pending[mid] = _Pending(consumer, now, 1)
            out.append(Delivery(_fmt(mid), self._jobs[mid], 1))
        if taken:
            g.last_delivered = taken[-1]
        return out

    async def ack(self, group: str, message_ids: Sequence[str]) -> int:
        g = self._group(group)
        acked = 0
        for text in message_ids:
            if g.pending.pop(_parse(text), None) is not None:
                acked += 1
        return acked

    async def claim_idle(
        self, group: str, consumer: str, min_idle_ms: int, cursor: str, count: int
    ) -> Claimed:
        g = self._group(group)
        start = _parse(cursor)
        now = time.monotonic()
        claimed: list[Delivery] = []
        deleted: list[str] = []
        # Like XAUTOCLAIM: scan at most 10 x count pending entries from the cursor.
        scanned = 0
        next_cursor = "0-0"
        for mid in sorted(k for k in g.pending if k >= start):
            if scanned >= 10 * count or len(claimed) >= count:
                next_cursor = _fmt(mid)
                break
            scanned += 1
            entry = g.pending[mid]
            if (now - entry.delivered_at) * 1000 < min_idle_ms:
                continue
            job = self._jobs.get(mid)
            if job is None:
                del g.pending[mid]
                deleted.append(_fmt(mid))
                continue
            entry.consumer = consumer
            entry.delivered_at = now
            entry.deliveries += 1
            claimed.append(Delivery(_fmt(mid), job, entry.deliveries))
        return Claimed(next_cursor, claimed, deleted)

    async def pending_count(self, group: str) -> int:
        return len(self._group(group).pending)

    async def length(self) -> int:
        return len(self._ids)

    async def trim(self, max_length: int) -> TrimResult:
        removed = 0
        if self._groups:
            needed = []
            for g in self._groups.values():
                if g.pending:
                    needed.append(next(iter(g.pending)))
                else:
                    needed.append((g.last_delivered[0], g.last_delivered[1] + 1))
            removed = self._drop(bisect.bisect_left(self._ids, min(needed)))
        capped = self._drop(len(self._ids) - max_length) if len(self._ids) > max_length else 0
        return TrimResult(removed, capped, len(self._ids))

    def _drop(self, n: int) -> int:
        for mid in self._ids[:n]:
            del self._jobs[mid]
        del self._ids[:n]
        return n

    async def close(self) -> None:
        return None


def _fmt(mid: tuple[int, int]) -> str:
    return f"{mid[0]}-{mid[1]}"


def _parse(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
