"""Apply the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from betteruptime.db.partitions import is_partition_name

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed number: all processes that migrate one PostgreSQL database take this lock.
_MIGRATION_LOCK_ID = 727_001


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Return False for daily tick partitions: SQL makes them, not the models."""
    return not (type_ == "table" and is_partition_name(name))


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild a table by copying it and dropping the original; with
        # foreign keys on, that DROP would cascade into every referencing row. The pragma
        # only works outside a transaction, which this connection has not begun yet.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    else:
        # Two services starting at once would otherwise both create the same tables.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema, serialised across processes."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
