"""Heartbeats: pings recorded by key, and silences found by the late loop."""

from __future__ import annotations

import contextlib
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    CrashShutdownError,
    DeadlockDetectedError,
    InterfaceError,
    PostgresConnectionError,
)
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from betteruptime.db import partitions
from betteruptime.db.models import Heartbeat, Website
from betteruptime.db.ticks import (
    TickRow,
    is_missing_partition,
    register_region,
    write_ticks,
    write_ticks_on,
)
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status

# Heartbeat results are stored as ticks of this region: pushed, not probed from anywhere.
HEARTBEAT_REGION = "push"
# Engines whose database has the region already (registering is idempotent; this only
# saves the statement on every ping).
_REGISTERED: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


# The ping path's dataclasses are not frozen: a frozen __init__ sets each field through
# object.__setattr__, which made building them most of a batch's Python time (10 µs for a
# PingUpdate against 2 µs).


@dataclass(slots=True)
class PingTarget:
    """The heartbeat a ping key names, with what a ping needs to compute its next state."""

    website_id: uuid.UUID
    options: str | None
    enabled: bool
    last_ping_at: datetime | None
    started_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Silence:
    """A heartbeat whose ping is overdue (or whose run did not finish) by more than grace."""

    website_id: uuid.UUID
    down_at: datetime
    last_ping_at: datetime | None
    started_at: datetime | None


@dataclass(slots=True)
class PingUpdate:
    """What one ping changes in its heartbeat row, and the tick it records (if any)."""

    down_at: datetime
    started_at: datetime | None
    finished: bool
    # Only for a finished run:
    last_ping_at: datetime | None = None
    exit_status: int | None = None
    run_ms: int | None = None
    body: str | None = None
    # The result to store as a tick of HEARTBEAT_REGION (None: nothing to record).
    tick_status: Status | None = None
    tick_error: str | None = None


@dataclass(slots=True)
class Ping:
    """One ping to record: its key, and how it changes the heartbeat it names."""

    key: str
    decide: Callable[[PingTarget], PingUpdate]


# PostgreSQL: a batch of pings is one transaction on the driver's connection (no ORM; the
# writer keeps its connection between batches). The heartbeat rows are locked in
# website_id order, so two API processes writing overlapping batches wait for each other
# instead of deadlocking, and a ping never computes its run time or deadline from a
# state another batch is changing. The website rows get the lock the tick write takes on
# them anyway (FOR KEY SHARE) at the same moment: a website being deleted waits for this
# batch, or this batch waits and no longer finds it (404), with no lock taken in between.
_PG_LOOKUP = """
SELECT w.ping_key, w.id, w.options, w.enabled, w.created_at, h.last_ping_at, h.started_at
FROM website AS w JOIN heartbeat AS h ON h.website_id = w.id
WHERE w.ping_key = ANY($1::text[]) AND w.kind = 'heartbeat'
ORDER BY w.id
FOR UPDATE OF h FOR KEY SHARE OF w
"""
# One row per heartbeat: the state after the last of its pings in the batch.
_PG_UPDATE = """
UPDATE heartbeat AS h SET
    down_at = u.down_at, late = false, started_at = u.started_at,
    last_ping_at = CASE WHEN u.finished THEN u.last_ping_at ELSE h.last_ping_at END,
    last_exit_status = CASE WHEN u.finished THEN u.exit_status ELSE h.last_exit_status END,
    last_run_ms = COALESCE(u.run_ms, h.last_run_ms),
    last_body = CASE WHEN u.finished THEN u.body ELSE h.last_body END
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bool[],
            $5::timestamptz[], $6::int2[], $7::int4[], $8::text[])
     AS u(website_id, down_at, started_at, finished, last_ping_at, exit_status, run_ms, body)
WHERE h.website_id = u.website_id
"""
# The server is gone or ended this session: a closed socket, or (when the server said why
# before closing it) a shutdown, a crash, or a backend terminated by an administrator.
_CONNECTION_LOST = (
    InterfaceError,
    PostgresConnectionError,
    OSError,
    AdminShutdownError,
    CrashShutdownError,
    CannotConnectNowError,
)
# How many times a batch is written before its error reaches the pings: a deadlock, a
# missing partition or a kept connection found dead is worth another attempt.
_ATTEMPTS = 3


@dataclass(slots=True)
class _Row:
    """A heartbeat's final state after the pings of one batch (the _PG_UPDATE row)."""

    change: PingUpdate
    finished: bool = False
    last_ping_at: datetime | None = None
    exit_status: int | None = None
    run_ms: int | None = None
    body: str | None = None


async def ensure_heartbeat_region(engine: AsyncEngine) -> None:
    """Register HEARTBEAT_REGION once per engine, before its first tick is written."""
    # The region exists once a heartbeat reports, not before: no empty region for
    # deployments without heartbeats.
    if engine not in _REGISTERED:
        await register_region(engine, HEARTBEAT_REGION, "heartbeat pings")
        _REGISTERED.add(engine)


class PingWriter:
    """Stores batches of pings, one batch at a time, on a connection it keeps between them.

    Keeping the connection saves each batch a pool checkout and its pre-ping (three round
    trips on asyncpg). A connection that fails is dropped; the next batch takes a fresh
    one from the pool, pre-pinged.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def record(self, pings: Sequence[Ping]) -> list[PingUpdate | None]:
        """Store the pings, in order; return each one's change, None for an unknown key.

        Everything is committed when this returns. An unknown key writes nothing.
        """
        if self._engine.dialect.name != "postgresql":
            return await _record_sqlite(self._engine, pings)
        await ensure_heartbeat_region(self._engine)
        for attempt in range(1, _ATTEMPTS + 1):
            last = attempt == _ATTEMPTS
            kept = self._conn is not None
            try:
                return await self._record_postgres(pings)
            except DeadlockDetectedError:
                # Another writer of the same rows (the late loop claims in its own order)
                # and PostgreSQL aborted this batch: nothing of it was written.
                if last:
                    raise
            except _PartitionsMissing as missing:
                # A ping on a day housekeeping has not prepared yet: make it, write again.
                if last:
                    raise
                await partitions.create_partitions(self._engine, missing.days)
            except Exception as exc:
                await self._drop()
                if kept and not last:
                    # The kept connection may have died while idle (a restart, sessions
                    # ended by an administrator), which the pool's pre-ping would have
                    # caught; asyncpg then fails in more ways than one. Once more on a
                    # fresh connection: even if the commit had gone through, writing the
                    # same pings again changes nothing (same times, the ticks' slots
                    # already taken).
                    continue
                if isinstance(exc, _CONNECTION_LOST):
                    # On the driver's connection SQLAlchemy does not wrap the error;
                    # callers get what it raises elsewhere for a lost connection (a 503).
                    raise OperationalError(
                        "record pings", None, exc, connection_invalidated=True
                    ) from exc
                raise
            except BaseException:
                # Cancelled mid-statement: the connection's state is unknown.
                await self._drop()
                raise
        raise AssertionError("every attempt returns or raises")

    async def aclose(self) -> None:
        """Close the kept connection (not returned to the pool: its session is the writer's)."""
        await self._drop()

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def _record_postgres(self, pings: Sequence[Ping]) -> list[PingUpdate | None]:
        if self._conn is None:
            conn = await self._engine.connect()
            raw = await conn.get_raw_connection()
            # Each statement is planned for its own arrays. A cached generic plan is made
            # once per connection (after five runs) from the table sizes of that moment,
            # and the push region's status rows grow from none as heartbeats first report:
            # a plan made while there were few of them scanned them all on every batch
            # (16 ms for a batch of 16 once there were 3,000) until an ANALYZE. Planning
            # costs about 0.7 ms a batch instead.
            await raw.driver_connection.execute("SET plan_cache_mode = force_custom_plan")
            self._conn = conn
        raw = await self._conn.get_raw_connection()
        apg: Any = raw.driver_connection
        keys = sorted({p.key for p in pings})
        async with apg.transaction():
            targets = {
                r["ping_key"]: PingTarget(
                    website_id=r["id"],
                    options=r["options"],
                    enabled=r["enabled"],
                    created_at=r["created_at"],
                    last_ping_at=r["last_ping_at"],
                    started_at=r["started_at"],
                )
                for r in await apg.fetch(_PG_LOOKUP, keys)
            }
            changes, rows, ticks = _apply(targets, pings)
            if rows:
                await apg.execute(_PG_UPDATE, *_columns(rows))
            if ticks:
                try:
                    # No lanes: the heartbeat rows, locked above in website_id order until
                    # commit, already keep two ping batches off the same status rows (a
                    # push status row is its heartbeat's), and lanes would make every other
                    # batch in flight wait for this one's commit. Only the late loop's
                    # silence ticks meet these rows without those locks: a deadlock with
                    # them (two late heartbeats pinged in that very instant) aborts this
                    # batch, which is written again.
                    await write_ticks_on(apg, HEARTBEAT_REGION, ticks, lanes=())
                except Exception as exc:  # the driver's error type: CheckViolationError
                    if not is_missing_partition(exc):
                        raise
                    days = sorted({partitions.utc_day(t.scheduled_at) for t in ticks})
                    raise _PartitionsMissing(days) from exc
        return changes


class _PartitionsMissing(Exception):
    """The batch's ticks need tick partitions that do not exist yet (nothing was written)."""

    def __init__(self, days: list[date]) -> None:
        super().__init__(days)
        self.days = days


def _apply(
    targets: dict[str, PingTarget], pings: Sequence[Ping]
) -> tuple[list[PingUpdate | None], dict[uuid.UUID, _Row], list[TickRow]]:
    """Return each ping's change, each heartbeat's final row and the ticks, in ping order."""
    changes: list[PingUpdate | None] = []
    rows: dict[uuid.UUID, _Row] = {}
    ticks: list[TickRow] = []
    for p in pings:
        target = targets.get(p.key)
        if target is None:
            changes.append(None)
            continue
        change = p.decide(target)
        changes.append(change)
        # The next ping of the same heartbeat in this batch sees the state this one left
        # (the targets are this batch's own).
        target.started_at = change.started_at
        if change.finished:
            target.last_ping_at = change.last_ping_at
        row = rows.get(target.website_id)
        if row is None:
            row = rows[target.website_id] = _Row(change)
        row.change = change
        if change.finished:
            row.finished = True
            row.last_ping_at = change.last_ping_at
            row.exit_status = change.exit_status
            row.body = change.body
            if change.run_ms is not None:
                row.run_ms = change.run_ms
        if change.tick_status is not None:
            ticks.append(_tick(target, change))
    return changes, rows, ticks


def _columns(rows: dict[uuid.UUID, _Row]) -> list[list[Any]]:
    ordered = sorted(rows.items())
    return [
        [website_id for website_id, _ in ordered],
        [r.change.down_at for _, r in ordered],
        [r.change.started_at for _, r in ordered],
        [r.finished for _, r in ordered],
        [r.last_ping_at for _, r in ordered],
        [r.exit_status for _, r in ordered],
        [r.run_ms for _, r in ordered],
        [r.body for _, r in ordered],
    ]


async def _record_sqlite(engine: AsyncEngine, pings: Sequence[Ping]) -> list[PingUpdate | None]:
    # SQLite has one writer at a time anyway: each ping is read and stored in turn (so the
    # next ping of the same heartbeat sees it), then the batch's ticks are written at once.
    changes: list[PingUpdate | None] = []
    ticks: list[TickRow] = []
    for p in pings:
        target = await find_by_key(engine, p.key)
        if target is None:
            changes.append(None)
            continue
        change = p.decide(target)
        await store_ping(engine, target.website_id, change)
        changes.append(change)
        if change.tick_status is not None:
            ticks.append(_tick(target, change))
    if ticks:
        await ensure_heartbeat_region(engine)
        # The ticks go through the one tick writer, as a check's result does.
        await write_ticks(engine, HEARTBEAT_REGION, ticks)
    return changes


def _tick(target: PingTarget, change: PingUpdate) -> TickRow:
    assert change.tick_status is not None and change.last_ping_at is not None
    return TickRow(
        website_id=target.website_id,
        status=change.tick_status,
        status_code=None,
        response_time_ms=change.run_ms,
        error=change.tick_error,
        scheduled_at=change.last_ping_at,
        checked_at=change.last_ping_at,
    )


async def find_by_key(engine: AsyncEngine, ping_key: str) -> PingTarget | None:
    """Return the heartbeat of a ping key, or None; a read only (unknown keys write nothing)."""
    query = (
        select(
            Website.id,
            Website.options,
            Website.enabled,
            Website.created_at,
            Heartbeat.last_ping_at,
            Heartbeat.started_at,
        )
        .join(Heartbeat, Heartbeat.website_id == Website.id)
        .where(Website.ping_key == ping_key, Website.kind == CheckKind.HEARTBEAT)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return PingTarget(
        website_id=row.id,
        options=row.options,
        enabled=row.enabled,
        last_ping_at=row.last_ping_at,
        started_at=row.started_at,
        created_at=row.created_at,
    )


async def store_ping(engine: AsyncEngine, website_id: uuid.UUID, change: PingUpdate) -> None:
    """Store what one ping changed: the next deadline, run times, exit status, body."""
    values: dict[str, object] = {
        "down_at": change.down_at,
        "late": False,
        "started_at": change.started_at,
    }
    if change.finished:
        values.update(
            last_exit_status=change.exit_status,
            last_body=change.body,
            last_ping_at=change.last_ping_at,
        )
        if change.run_ms is not None:
            values["last_run_ms"] = change.run_ms
    async with engine.begin() as conn:
        await conn.execute(
            update(Heartbeat).where(Heartbeat.website_id == website_id).values(**values)
        )


async def claim_silences(engine: AsyncEngine, now: datetime, limit: int) -> list[Silence]:
    """Mark up to limit overdue heartbeats as late and return them (each silence once).

    The conditional update is the claim: two loops running at once never report the same
    silence twice, because only one of them flips `late` from false.
    """
    due = (
        select(Heartbeat.website_id)
        .join(Website, Website.id == Heartbeat.website_id)
        .where(Heartbeat.late.is_(False), Heartbeat.down_at <= now, Website.enabled.is_(True))
        .order_by(Heartbeat.down_at)
        .limit(limit)
    )
    async with engine.begin() as conn:
        ids = list((await conn.execute(due)).scalars())
        if not ids:
            return []
        result = await conn.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id.in_(ids), Heartbeat.late.is_(False))
            .values(late=True)
            .returning(
                Heartbeat.website_id,
                Heartbeat.down_at,
                Heartbeat.last_ping_at,
                Heartbeat.started_at,
            )
        )
        return [Silence(r.website_id, r.down_at, r.last_ping_at, r.started_at) for r in result]


async def last_ping_at(session: AsyncSession, website_id: uuid.UUID) -> datetime | None:
    """Return when the heartbeat last reported success, or None."""
    return await session.scalar(
        select(Heartbeat.last_ping_at).where(Heartbeat.website_id == website_id)
    )


async def get_heartbeat(session: AsyncSession, website_id: uuid.UUID) -> Heartbeat | None:
    """Return the push state of a heartbeat website, or None for other kinds."""
    return await session.get(Heartbeat, website_id)


__all__: Sequence[str] = (
    "HEARTBEAT_REGION",
    "Ping",
    "PingTarget",
    "PingUpdate",
    "PingWriter",
    "Silence",
    "claim_silences",
    "ensure_heartbeat_region",
    "find_by_key",
    "get_heartbeat",
    "last_ping_at",
    "store_ping",
)
