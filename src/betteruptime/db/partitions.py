"""Daily range partitions of website_tick on PostgreSQL: names, creation, listing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

PARENT = "website_tick"
_NAME = re.compile(r"^website_tick_p(\d{8})$")
# pg_advisory_xact_lock(class, day): creators of one day's partition (housekeeping in
# every pusher, writers on demand) take turns instead of failing on each other's DDL.
_CREATE_LOCK_CLASS = 727_003


def partition_name(day: date) -> str:
    """Return the name of the partition holding ticks scheduled on day (UTC)."""
    return f"{PARENT}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """Return the day a partition name stands for, or None when it is not one."""
    match = _NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()


def is_partition_name(name: str | None) -> bool:
    """Return True for a tick partition's name (migrations compare everything else)."""
    return name is not None and partition_day(name) is not None


def day_start(day: date) -> datetime:
    """Return midnight UTC starting day."""
    return datetime.combine(day, time(), tzinfo=UTC)


def utc_day(moment: datetime) -> date:
    """Return the UTC day of an aware datetime."""
    return moment.astimezone(UTC).date()


def days_between(first: date, last: date) -> list[date]:
    """Return every day from first to last, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def create_statements(day: date) -> list[str]:
    """Return the SQL that creates and attaches day's partition unless it exists.

    The table is made standalone and then attached: ATTACH PARTITION takes only a SHARE
    UPDATE EXCLUSIVE lock on the parent, so writers and readers of other days carry on,
    where CREATE TABLE ... PARTITION OF would take an ACCESS EXCLUSIVE one. The index is
    packed full (fillfactor 100): inserts append to each website's range, and a closed
    day is compacted to full pages by housekeeping. Run them in one transaction.
    """
    name = partition_name(day)
    start = day_start(day)
    end = start + timedelta(days=1)
    number = int(f"{day:%Y%m%d}")
    return [
        f"SELECT pg_advisory_xact_lock({_CREATE_LOCK_CLASS}, {number})",
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (
                SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = '{PARENT}'::regclass AND c.relname = '{name}'
            ) THEN
                DROP TABLE IF EXISTS {name};
                CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS);
                ALTER TABLE {name} ADD CONSTRAINT {name}_pkey
                    PRIMARY KEY (website_ref, region_ref, scheduled_at)
                    WITH (fillfactor = 100);
                ALTER TABLE {PARENT} ATTACH PARTITION {name}
                    FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}');
            END IF;
        END
        $$
        """,  # noqa: S608 - built from constants, no input
    ]


async def create_partitions(engine: AsyncEngine, days: Iterable[date]) -> None:
    """Create (and attach) the tick partitions of days that have none yet."""
    for day in days:
        async with engine.begin() as conn:
            for statement in create_statements(day):
                await conn.exec_driver_sql(statement)


@dataclass(frozen=True, slots=True)
class Partition:
    """One tick partition: its day, whether it is attached, and if its detach is pending."""

    name: str
    day: date
    attached: bool
    detach_pending: bool
    compacted: bool


# Every table named like a partition: attached ones, and detached ones a crash left behind
# between DETACH and DROP. The comment on the primary-key index marks a compacted day.
LIST_SQL = f"""
SELECT c.relname AS name,
       i.inhrelid IS NOT NULL AS attached,
       coalesce(i.inhdetachpending, false) AS detach_pending,
       coalesce(obj_description(x.indexrelid, 'pg_class') = 'compacted', false) AS compacted
FROM pg_class c
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = '{PARENT}'::regclass
LEFT JOIN pg_index x ON x.indrelid = c.oid AND x.indisprimary
WHERE c.relkind = 'r' AND c.relname ~ '^{PARENT}_p[0-9]{{8}}$'
  AND c.relnamespace = current_schema()::regnamespace
ORDER BY c.relname
"""  # noqa: S608 - built from constants, no input


async def list_partitions(engine: AsyncEngine) -> list[Partition]:
    """Return every tick partition, oldest first (none on SQLite)."""
    if engine.dialect.name != "postgresql":
        return []
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(LIST_SQL)).mappings().all()
    found = []
    for row in rows:
        day = partition_day(row["name"])
        if day is not None:
            found.append(
                Partition(
                    name=row["name"],
                    day=day,
                    attached=bool(row["attached"]),
                    detach_pending=bool(row["detach_pending"]),
                    compacted=bool(row["compacted"]),
                )
            )
    return found
