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
    PostgresError,
)
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from betteruptime.db import partitions
from betteruptime.db.faults import Contention
from betteruptime.db.models import Heartbeat, Website
from betteruptime.db.ticks import (
    TICK_PARAMETERS,
    TickRow,
    is_missing_partition,
    register_region,
    tick_arguments,
    write_statement,
    write_ticks,
    write_ticks_sqlite_on,
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


# PostgreSQL: a batch of pings is two statements on the driver's connection (no ORM; the
# writer keeps its connection between batches), with no transaction held open between
# them: a lookup, then one write that moves the heartbeat rows and stores the ticks (and
# status rows) together. The write is a compare-and-set: it changes a heartbeat only if
# its last_ping_at and started_at are still what the lookup read, so a ping never
# computes its run time or deadline from a state another batch changed meanwhile; the
# pings of a heartbeat that did change are looked up and written again. The write locks
# its heartbeat rows in website_id order before it touches anything else, so batches in
# flight together (several writers, several API processes) wait for each other instead
# of deadlocking, and two batches never write the same status rows at once (a push
# status row is its heartbeat's). A website deleted after the lookup has no heartbeat row
# left to change: its pings are looked up again and find nothing (404).
_PG_LOOKUP = """
SELECT w.ping_key, w.id, w.options, w.enabled, w.created_at, h.last_ping_at, h.started_at
FROM website AS w JOIN heartbeat AS h ON h.website_id = w.id
WHERE w.ping_key = ANY($1::text[]) AND w.kind = 'heartbeat'
"""
_P = TICK_PARAMETERS
# One row per heartbeat: the state after the last of its pings in the batch. Its ticks
# are written only if the heartbeat was (`only`): ticks of a heartbeat written again
# later are that write's. Each website row gets the lock the tick write takes on it
# anyway (FOR KEY SHARE) with its heartbeat's, website first, as a deletion takes them:
# a website being deleted waits for this write, or this write waits and no longer finds
# it, with no lock of it held in between. A batch of more than one tick takes its
# region's lanes like any other (see _PG_WRITE in db/ticks.py), so it never deadlocks
# with the late loop's silence ticks on the same status rows.
#
# The late loop's claim (_PG_CLAIM) takes the same locks with the same CTE, so the two
# always lock in one order: the region's lanes (a statement of more than one tick), then
# each website with its heartbeat, by website id, then the status rows.
_LOCK_HEARTBEATS = f"""locked AS (
    SELECT h.website_id FROM heartbeat AS h JOIN website AS w ON w.id = h.website_id
    WHERE h.website_id = ANY(${_P + 1}::uuid[])
    ORDER BY h.website_id
    FOR KEY SHARE OF w FOR UPDATE OF h
), """  # noqa: S608 - built from constants, no input
_PG_WRITE_PINGS = write_statement(
    before=_LOCK_HEARTBEATS  # noqa: S608 - built from constants, no input
    + f"""hb AS (
    UPDATE heartbeat AS h SET
        down_at = p.down_at, late = false, started_at = p.started_at,
        last_ping_at = CASE WHEN p.finished THEN p.last_ping_at ELSE h.last_ping_at END,
        last_exit_status = CASE WHEN p.finished THEN p.exit_status
                                ELSE h.last_exit_status END,
        last_run_ms = COALESCE(p.run_ms, h.last_run_ms),
        last_body = CASE WHEN p.finished THEN p.body ELSE h.last_body END
    FROM unnest(${_P + 1}::uuid[], ${_P + 2}::timestamptz[], ${_P + 3}::timestamptz[],
                ${_P + 4}::timestamptz[], ${_P + 5}::timestamptz[], ${_P + 6}::bool[],
                ${_P + 7}::timestamptz[], ${_P + 8}::int2[], ${_P + 9}::int4[],
                ${_P + 10}::text[])
         AS p(website_id, seen_last_ping_at, seen_started_at, down_at, started_at,
              finished, last_ping_at, exit_status, run_ms, body)
    WHERE h.website_id = p.website_id
      AND (SELECT count(*) FROM locked) >= 0  -- every lock first: a one-time filter
      AND h.last_ping_at IS NOT DISTINCT FROM p.seen_last_ping_at
      AND h.started_at IS NOT DISTINCT FROM p.seen_started_at
    RETURNING h.website_id
), """,  # noqa: S608 - built from constants, no input
    only="WHERE u.website_id IN (SELECT website_id FROM hb)",
    returning=", ARRAY(SELECT website_id FROM hb) AS written",
)
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
# How many times the pings of a heartbeat other writers keep changing are looked up and
# written again before the batch fails (each time, some other write of it succeeded).
_ROUNDS = 20


@dataclass(slots=True)
class _Row:
    """A heartbeat's final state after the pings of one batch (a row of _PG_WRITE_PINGS)."""

    change: PingUpdate
    # What the lookup read: the write changes the heartbeat only if it still holds.
    seen_last_ping_at: datetime | None = None
    seen_started_at: datetime | None = None
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
            except DeadlockDetectedError as exc:
                # Every writer of these rows (other batches, the late loop, a deletion)
                # locks them in one order, so this is a last resort: PostgreSQL aborted
                # the batch and nothing of it was written.
                if last:
                    raise Contention("deadlock on every attempt") from exc
            except Contention:
                raise  # other writers' doing, not the connection's: keep it
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
            # Every row this connection reads or writes is found by a key, and a sequential
            # scan is never the plan for that at any size that matters. But PostgreSQL
            # caches one generic plan per statement and connection, made (after five runs)
            # from the table sizes of that moment, and the push region's status rows grow
            # from none as heartbeats first report: a plan made while there were few of
            # them scanned them all on every batch (16 ms for a batch of 16 once there were
            # 3,000) until an ANALYZE. Planning every batch anew would cost 0.7 ms a batch.
            driver: Any = raw.driver_connection
            await driver.execute("SET enable_seqscan = off")
            self._conn = conn
        raw = await self._conn.get_raw_connection()
        apg: Any = raw.driver_connection
        results: list[PingUpdate | None] = [None] * len(pings)
        todo = list(range(len(pings)))
        for _ in range(_ROUNDS):
            batch = [pings[i] for i in todo]
            targets = {
                r["ping_key"]: PingTarget(
                    website_id=r["id"],
                    options=r["options"],
                    enabled=r["enabled"],
                    created_at=r["created_at"],
                    last_ping_at=r["last_ping_at"],
                    started_at=r["started_at"],
                )
                for r in await apg.fetch(_PG_LOOKUP, sorted({p.key for p in batch}))
            }
            # The websites of the pings, before _apply moves the targets' state on.
            owners = [targets[p.key].website_id if p.key in targets else None for p in batch]
            changes, rows, ticks = _apply(targets, batch)
            if not rows:
                return results  # unknown keys only: nothing to write
            try:
                record = await apg.fetchrow(
                    _PG_WRITE_PINGS,
                    *tick_arguments(HEARTBEAT_REGION, ticks),
                    *_columns(rows),
                )
            except Exception as exc:  # the driver's error type: CheckViolationError
                if not is_missing_partition(exc):
                    raise
                days = sorted({partitions.utc_day(t.scheduled_at) for t in ticks})
                raise _PartitionsMissing(days) from exc
            written = set(record["written"])
            retry = []
            for i, owner, change in zip(todo, owners, changes, strict=True):
                if owner is None or owner in written:
                    results[i] = change
                else:
                    retry.append(i)
            if not retry:
                return results
            todo = retry
        raise Contention("heartbeats changed by other writers on every attempt")


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
        seen_last, seen_started = target.last_ping_at, target.started_at
        change = p.decide(target)
        changes.append(change)
        # The next ping of the same heartbeat in this batch sees the state this one left
        # (the targets are this batch's own).
        target.started_at = change.started_at
        if change.finished:
            target.last_ping_at = change.last_ping_at
        row = rows.get(target.website_id)
        if row is None:
            # Read before this ping moves the target on: the state the lookup saw.
            row = rows[target.website_id] = _Row(
                change, seen_last_ping_at=seen_last, seen_started_at=seen_started
            )
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
        [r.seen_last_ping_at for _, r in ordered],
        [r.seen_started_at for _, r in ordered],
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


# The late loop's claim: a silence's heartbeat is marked late and its DOWN tick stored in
# one statement, so one transaction, on PostgreSQL as on SQLite. Marking late first and
# writing the tick after, in a transaction of its own, lost the outage for good whenever
# the tick write failed (a database restart, the process killed in between): a late
# heartbeat is never claimed again, so its website never went DOWN. Atomic rather than
# repaired afterwards (re-claiming late heartbeats whose tick is missing): nothing can be
# half done, and no second scan of ticks is needed to find out.
#
# On PostgreSQL the overdue heartbeats are read first, without locks; their ticks are
# computed from what was read, and the claim is a compare-and-set like a ping batch's
# write: it marks a heartbeat late only if it is still as read (not late, same deadline,
# same pings) and stores the ticks of the heartbeats it marked only. A heartbeat pinged
# in between is left alone (its deadline moved); if it is overdue again, a later scan
# claims it. The claim locks as a ping batch does (see _LOCK_HEARTBEATS), so the two wait
# for each other instead of deadlocking.
_PG_DUE = """
SELECT h.website_id, h.down_at, h.last_ping_at, h.started_at
FROM heartbeat AS h JOIN website AS w ON w.id = h.website_id
WHERE NOT h.late AND h.down_at <= $1 AND w.enabled
ORDER BY h.down_at
LIMIT $2
"""
_PG_CLAIM = write_statement(
    before=_LOCK_HEARTBEATS  # noqa: S608 - built from constants, no input
    + f"""claimed AS (
    UPDATE heartbeat AS h SET late = true
    FROM unnest(${_P + 1}::uuid[], ${_P + 2}::timestamptz[], ${_P + 3}::timestamptz[],
                ${_P + 4}::timestamptz[])
         AS c(website_id, down_at, last_ping_at, started_at)
    WHERE h.website_id = c.website_id
      AND (SELECT count(*) FROM locked) >= 0  -- every lock first: a one-time filter
      AND NOT h.late
      AND h.down_at = c.down_at
      AND h.last_ping_at IS NOT DISTINCT FROM c.last_ping_at
      AND h.started_at IS NOT DISTINCT FROM c.started_at
      AND EXISTS (SELECT 1 FROM website AS w WHERE w.id = h.website_id AND w.enabled)
    RETURNING h.website_id
), """,  # noqa: S608 - built from constants, no input
    only="WHERE u.website_id IN (SELECT website_id FROM claimed)",
    returning=", ARRAY(SELECT website_id FROM claimed) AS claimed",
)


async def claim_silences(
    engine: AsyncEngine, now: datetime, limit: int, tick_of: Callable[[Silence], TickRow]
) -> list[Silence]:
    """Mark up to limit overdue heartbeats late, store tick_of(each), return them.

    Each silence is claimed once: two loops running at once never report the same silence
    twice, because only one of them flips `late` from false. A claim and its tick are
    committed together or not at all, so a failed scan leaves its silences for the next.
    """
    if engine.dialect.name != "postgresql":
        return await _claim_sqlite(engine, now, limit, tick_of)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        try:
            return await _claim_postgres(engine, raw.driver_connection, now, limit, tick_of)
        except (PostgresError, InterfaceError) as exc:
            # The driver's own errors bypass SQLAlchemy's wrapping; wrapped, they are the
            # database faults the late loop waits out and retries.
            raise DBAPIError(None, None, exc) from exc


async def _claim_postgres(
    engine: AsyncEngine,
    apg: Any,
    now: datetime,
    limit: int,
    tick_of: Callable[[Silence], TickRow],
) -> list[Silence]:
    silences = [
        Silence(r["website_id"], r["down_at"], r["last_ping_at"], r["started_at"])
        for r in await apg.fetch(_PG_DUE, now, limit)
    ]
    if not silences:
        return []
    await ensure_heartbeat_region(engine)
    silences.sort(key=lambda s: s.website_id)
    ticks = [tick_of(s) for s in silences]
    columns = [
        [s.website_id for s in silences],
        [s.down_at for s in silences],
        [s.last_ping_at for s in silences],
        [s.started_at for s in silences],
    ]
    for attempt in range(1, _ATTEMPTS + 1):
        last = attempt == _ATTEMPTS
        try:
            record = await apg.fetchrow(
                _PG_CLAIM, *tick_arguments(HEARTBEAT_REGION, ticks), *columns
            )
        except DeadlockDetectedError:
            # A last resort: every writer of these rows locks them in one order. Nothing
            # of the claim was stored; the same claim again is still right.
            if last:
                raise
            continue
        except PostgresError as exc:
            # A silence on a day housekeeping has not prepared (a heartbeat silent since
            # before the oldest partition, or the pusher was away): make it, claim again.
            if last or not is_missing_partition(exc):
                raise
            days = sorted({partitions.utc_day(t.scheduled_at) for t in ticks})
            await partitions.create_partitions(engine, days)
            continue
        claimed = set(record["claimed"])
        return [s for s in silences if s.website_id in claimed]
    raise AssertionError("every attempt returns or raises")


async def _claim_sqlite(
    engine: AsyncEngine, now: datetime, limit: int, tick_of: Callable[[Silence], TickRow]
) -> list[Silence]:
    due = (
        select(Heartbeat.website_id)
        .join(Website, Website.id == Heartbeat.website_id)
        .where(Heartbeat.late.is_(False), Heartbeat.down_at <= now, Website.enabled.is_(True))
        .order_by(Heartbeat.down_at)
        .limit(limit)
    )
    # A read first, so a database without silences gets no push region (nor a write).
    async with engine.connect() as conn:
        if (await conn.execute(due.limit(1))).first() is None:
            return []
    await ensure_heartbeat_region(engine)
    async with engine.begin() as conn:
        # The update comes first, so the transaction holds SQLite's one write lock from
        # its first statement (a read first could find the database changed underneath
        # it when it came to write, and fail).
        result = await conn.execute(
            update(Heartbeat)
            .where(Heartbeat.website_id.in_(due.scalar_subquery()), Heartbeat.late.is_(False))
            .values(late=True)
            .returning(
                Heartbeat.website_id,
                Heartbeat.down_at,
                Heartbeat.last_ping_at,
                Heartbeat.started_at,
            )
        )
        silences = [Silence(r.website_id, r.down_at, r.last_ping_at, r.started_at) for r in result]
        if silences:
            await write_ticks_sqlite_on(conn, HEARTBEAT_REGION, [tick_of(s) for s in silences])
    return silences


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
    "Contention",
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
