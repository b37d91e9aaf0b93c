"""CheckQueue on a Redis stream with one consumer group per region."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from betteruptime.queue.base import (
    CheckJob,
    Claimed,
    Delivery,
    GroupMissing,
    QueueError,
    QueueUnavailable,
    TrimResult,
    decode_job,
    encode_job,
    stream_key,
)

# XREADGROUP's BLOCK must stay below the socket timeout, or redis-py reports a timeout
# for what is only an empty read.
SOCKET_TIMEOUT_SECONDS = 10.0
MAX_BLOCK_MS = 5_000


def parse_id(message_id: str) -> tuple[int, int]:
    """Return a stream id as (milliseconds, sequence)."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


def format_id(parts: tuple[int, int]) -> str:
    """Return the text form of a (milliseconds, sequence) stream id."""
    return f"{parts[0]}-{parts[1]}"


def to_delivery(message_id: str, fields: dict[str, str], deliveries: int = 1) -> Delivery:
    """Return a delivery; a message that does not decode is kept as malformed."""
    try:
        return Delivery(message_id, decode_job(fields), deliveries)
    except (KeyError, ValueError, TypeError) as exc:
        return Delivery(message_id, None, deliveries, malformed=f"{type(exc).__name__}: {exc}")


class RedisStreamQueue:
    """The production queue: XADD, XREADGROUP, XACK, XAUTOCLAIM and XTRIM on one stream."""

    def __init__(
        self, client: aioredis.Redis, base_key: str, max_block_ms: int = MAX_BLOCK_MS
    ) -> None:
        self._client = client
        self.key = stream_key(base_key)
        self._max_block_ms = max_block_ms

    @classmethod
    def from_url(
        cls, url: str, base_key: str, socket_timeout: float = SOCKET_TIMEOUT_SECONDS
    ) -> RedisStreamQueue:
        """Return a queue on a new client for url (decoded strings, bounded timeouts)."""
        client = aioredis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=min(5, socket_timeout),
            health_check_interval=30,
        )
        return cls(client, base_key, min(MAX_BLOCK_MS, int(socket_timeout * 500)))

    @property
    def client(self) -> aioredis.Redis:
        """Return the Redis client (for monitoring and tests)."""
        return self._client

    async def publish(self, jobs: Sequence[CheckJob]) -> list[str]:
        if not jobs:
            return []
        async with _faults():
            # One pipeline per batch: one round trip, without MULTI (nothing needs atomicity
            # here; the caller's database transaction decides what counts as pushed).
            pipe = self._client.pipeline(transaction=False)
            for job in jobs:
                pipe.xadd(stream_key(self.key, job.website_id), encode_job(job))  # type: ignore[arg-type]
            ids: list[str] = await pipe.execute()
        return ids

    async def ensure_group(self, group: str) -> bool:
        async with _faults():
            try:
                # Start at 0, not $: a region that joins (or a group recreated after Redis
                # lost it) still gets what is in the stream; stale jobs are skipped cheaply.
                await self._client.xgroup_create(self.key, group, id="0", mkstream=True)
            except rexc.ResponseError as exc:
                if str(exc).startswith("BUSYGROUP"):
                    return False
                raise
        return True

    async def read(self, group: str, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        # BLOCK 0 means "forever" to Redis; the protocol's 0 means "do not wait".
        block = min(block_ms, self._max_block_ms) if block_ms > 0 else None
        async with _faults():
            response: Any = await self._client.xreadgroup(
                group, consumer, {self.key: ">"}, count=count, block=block
            )
        out: list[Delivery] = []
        for _stream, messages in _stream_items(response):
            for message_id, fields in messages:
                out.append(to_delivery(message_id, fields or {}))
        return out

    async def ack(self, group: str, message_ids: Sequence[str]) -> int:
        if not message_ids:
            return 0
        async with _faults():
            acked: int = await self._client.xack(self.key, group, *message_ids)
        return acked

    async def claim_idle(
        self, group: str, consumer: str, min_idle_ms: int, cursor: str, count: int
    ) -> Claimed:
        async with _faults():
            response: Any = await self._client.xautoclaim(
                self.key, group, consumer, min_idle_ms, start_id=cursor, count=count
            )
            next_cursor = str(response[0])
            messages = [(mid, f) for mid, f in response[1]]
            # Redis 7 lists claimed ids whose entries were trimmed away; 6.2 returns them
            # with no fields. Either way there is nothing left to check.
            deleted = [str(mid) for mid in (response[2] if len(response) > 2 else [])]
            deleted += [mid for mid, fields in messages if fields is None]
            live = [(mid, fields) for mid, fields in messages if fields is not None]
            counts: dict[str, int] = {}
            if live:
                # XAUTOCLAIM does not report delivery counts; XPENDING over the claimed
                # range does (the claim itself already added one).
                detail = await self._client.xpending_range(
                    self.key,
                    group,
                    min=live[0][0],
                    max=live[-1][0],
                    count=len(live) * 4 + 100,
                    consumername=consumer,
                )
                counts = {str(d["message_id"]): int(d["times_delivered"]) for d in detail}
        deliveries = [to_delivery(mid, fields, counts.get(mid, 2)) for mid, fields in live]
        return Claimed(next_cursor, deliveries, deleted)

    async def pending_count(self, group: str) -> int:
        async with _faults():
            summary: Any = await self._client.xpending(self.key, group)
        return int(summary["pending"])

    async def length(self) -> int:
        async with _faults():
            n: int = await self._client.xlen(self.key)
        return n

    async def trim(self, max_length: int) -> TrimResult:
        """Trim below the oldest entry any group still needs, then enforce the hard cap.

        Only groups that exist protect entries: a region's group is created by its first
        worker, so entries pushed before any worker of a region ever ran are only kept by
        the cap. Between reading the groups and trimming, pending sets only lose entries
        and last-delivered ids only move forward, so the threshold stays safe.
        """
        async with _faults():
            removed = 0
            threshold = await self._oldest_needed()
            if threshold is not None:
                removed = await self._client.xtrim(
                    self.key, minid=format_id(threshold), approximate=False
                )
            length: int = await self._client.xlen(self.key)
            capped = 0
            if length > max_length:
                capped = await self._client.xtrim(self.key, maxlen=max_length, approximate=False)
                length -= capped
        return TrimResult(int(removed), int(capped), length)

    async def _oldest_needed(self) -> tuple[int, int] | None:
        try:
            groups: list[dict[str, Any]] = await self._client.xinfo_groups(self.key)
        except rexc.ResponseError as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        if not groups:
            return None
        oldest: tuple[int, int] | None = None
        for group in groups:
            if int(group["pending"]) > 0:
                summary: Any = await self._client.xpending(self.key, group["name"])
                needed = parse_id(str(summary["min"]))
            else:
                # Nothing pending: everything up to last-delivered-id is acknowledged.
                ms, seq = parse_id(str(group["last-delivered-id"]))
                needed = (ms, seq + 1)
            oldest = needed if oldest is None else min(oldest, needed)
        return oldest

    async def close(self) -> None:
        await self._client.aclose()


def _stream_items(response: Any) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """Return XREADGROUP's reply as (stream, messages) pairs for RESP2 and RESP3 alike."""
    if not response:
        return []
    if isinstance(response, dict):
        return [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in response.items()]
    return [(k, v) for k, v in response]


# Errors that pass once the server is ready again: a replica promoted or still syncing
# (READONLY, MASTERDOWN), a restarted server loading its data set (LOADING, which
# redis-py raises as a ConnectionError), a full server (OOM), a busy script (BUSY) and
# the cluster's transient states. Codes, because redis-py strips the code of the errors
# it maps to classes but keeps it on status_code.
_UNAVAILABLE_CODES = frozenset(
    {"READONLY", "MASTERDOWN", "LOADING", "OOM", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"}
)
# The group, or the whole stream with it, is gone: DEL or FLUSHALL of the key, a failover
# to an empty replica, XGROUP DESTROY. UNBLOCKED is what a reader blocked in XREADGROUP
# gets when the stream key is deleted under it.
_GROUP_MISSING_CODES = frozenset({"NOGROUP", "UNBLOCKED"})


def classify(exc: Exception) -> QueueError:
    """Return the queue error a redis-py error stands for."""
    if isinstance(exc, rexc.ResponseError):
        code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
        if code in _GROUP_MISSING_CODES:
            return GroupMissing(str(exc))
        if code in _UNAVAILABLE_CODES or isinstance(exc, rexc.ReadOnlyError):
            return QueueUnavailable(f"redis: {code}: {exc}")
        return QueueError(f"redis: {exc}")
    if isinstance(exc, rexc.ConnectionError | rexc.TimeoutError | OSError):
        return QueueUnavailable(f"redis: {type(exc).__name__}: {exc}")
    return QueueError(f"redis: {type(exc).__name__}: {exc}")


@asynccontextmanager
async def _faults() -> AsyncIterator[None]:
    """Translate redis-py errors into the queue's own errors (see classify)."""
    try:
        yield
    except (rexc.RedisError, OSError) as exc:
        raise classify(exc) from exc
