"""The CheckQueue protocol and the plain values that cross it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from betteruptime.rules.checks import CheckKind


# CheckJob and Delivery are made per message: not frozen, because a frozen dataclass's
# __init__ costs several times more, and the worker makes thousands a second.
@dataclass(slots=True)
class CheckJob:
    """One scheduled check of one website, as the pusher enqueues it."""

    website_id: uuid.UUID
    url: str
    timeout_seconds: float
    interval_seconds: int
    scheduled_at: datetime
    # A job read after its deadline is stale: a newer one has been scheduled by then.
    deadline: datetime
    # Which checker runs it; last and defaulted, so a job is built the same way whatever
    # kinds exist.
    kind: CheckKind = CheckKind.HTTP
    # The kind's options as the website stores them (compact JSON; "" for none).
    options: str = ""


@dataclass(slots=True)
class Delivery:
    """One message handed to a consumer: its job, or why it could not be decoded."""

    message_id: str
    job: CheckJob | None
    # 1 on the first read; XAUTOCLAIM (and its local twin) adds one per claim.
    deliveries: int = 1
    malformed: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one claim call returned: the cursor to continue from and the messages."""

    cursor: str
    deliveries: list[Delivery]
    # Entries still pending but already trimmed from the stream (nothing left to check).
    deleted: list[str]


@dataclass(frozen=True, slots=True)
class TrimResult:
    """What one trim removed: acknowledged entries, and unacknowledged ones over the cap."""

    acknowledged_removed: int
    capped_removed: int
    length: int


class QueueError(Exception):
    """The queue could not do what was asked."""


class QueueUnavailable(QueueError):
    """The queue's server cannot be reached; retry later."""


class GroupMissing(QueueError):
    """The consumer group (or its stream) does not exist, e.g. Redis restarted empty."""


class CheckQueue(Protocol):
    """A stream of check jobs with consumer groups, pending entries, acks and claims."""

    async def publish(self, jobs: Sequence[CheckJob]) -> list[str]:
        """Return the message ids of the jobs, appended in order."""
        ...

    async def ensure_group(self, group: str) -> bool:
        """Return True when the group was created, False when it already existed."""
        ...

    async def read(self, group: str, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """Return up to count new messages for the consumer, waiting up to block_ms."""
        ...

    async def ack(self, group: str, message_ids: Sequence[str]) -> int:
        """Return how many of the messages were pending in the group and are now acked."""
        ...

    async def claim_idle(
        self, group: str, consumer: str, min_idle_ms: int, cursor: str, count: int
    ) -> Claimed:
        """Return messages pending longer than min_idle_ms, now owned by the consumer."""
        ...

    async def pending_count(self, group: str) -> int:
        """Return how many messages the group has delivered but not acknowledged."""
        ...

    async def length(self) -> int:
        """Return how many entries the stream holds."""
        ...

    async def trim(self, max_length: int) -> TrimResult:
        """Drop entries every group has acknowledged, then cap the stream at max_length."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def stream_key(base_key: str, website_id: uuid.UUID | None = None) -> str:
    """Return the stream a website's jobs go to (one stream today; the shard point later)."""
    # Sharding (Betteruptime:Websites:{n}, n = website id modulo N) changes only this
    # function and the readers' list of streams.
    return base_key


def encode_job(job: CheckJob) -> dict[str, str]:
    """Return the stream fields of a job (strings only, readable with redis-cli)."""
    fields = {
        "kind": job.kind.value,
        "website_id": str(job.website_id),
        "url": job.url,
        "timeout_seconds": repr(float(job.timeout_seconds)),
        "interval_seconds": str(job.interval_seconds),
        "scheduled_at": job.scheduled_at.isoformat(),
        "deadline": job.deadline.isoformat(),
    }
    # Absent rather than empty: a plain check's entry stays as small as before options.
    if job.options:
        fields["options"] = job.options
    return fields


# A dict, not CheckKind(value): the enum's lookup by value costs a microsecond per job.
_KIND_OF = {kind.value: kind for kind in CheckKind}


def decode_job(fields: Mapping[str, str]) -> CheckJob:
    """Return the job encoded in stream fields; raise ValueError/KeyError when malformed."""
    scheduled_at = datetime.fromisoformat(fields["scheduled_at"])
    deadline = datetime.fromisoformat(fields["deadline"])
    if scheduled_at.tzinfo is None or deadline.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    timeout = float(fields["timeout_seconds"])
    interval = int(fields["interval_seconds"])
    if not 0 < timeout <= 3600 or interval <= 0:
        raise ValueError("timeout_seconds and interval_seconds must be positive")
    url = fields["url"]
    if not url:
        raise ValueError("url is empty")
    # Jobs enqueued before kinds existed (still on a stream during an upgrade) are HTTP
    # checks; an unknown kind raises ValueError, so the message is treated as malformed.
    kind = _KIND_OF.get(fields.get("kind", CheckKind.HTTP))
    if kind is None:
        raise ValueError(f"unknown kind {fields['kind'][:20]!r}")
    return CheckJob(
        website_id=uuid.UUID(fields["website_id"]),
        url=url,
        timeout_seconds=timeout,
        interval_seconds=interval,
        scheduled_at=scheduled_at if scheduled_at.tzinfo is UTC else scheduled_at.astimezone(UTC),
        deadline=deadline if deadline.tzinfo is UTC else deadline.astimezone(UTC),
        kind=kind,
        options=fields.get("options", ""),
    )
