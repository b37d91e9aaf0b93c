"""compact ticks

Small refs instead of UUIDs and names, deduplicated error texts, one key (website,
region, scheduled time), daily partitions on PostgreSQL.

Revision ID: 0003_compact_ticks
Revises: 0002_check_kind
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from betteruptime.db import partitions

revision: str = "0003_compact_ticks"
down_revision: str | None = "0002_check_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partitions made ahead of today by the migration (housekeeping keeps this up later).
_DAYS_AHEAD = 3

_NEW_COLUMNS = (
    "scheduled_at, website_ref, delay_ms, response_time_ms, error_id, region_ref, status, "
    "status_code"
)


def _tick_table(name: str) -> list[sa.Column[object]]:
    return [
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("website_ref", sa.Integer(), nullable=False),
        sa.Column("delay_ms", sa.Integer(), nullable=False),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("error_id", sa.Integer(), nullable=True),
        sa.Column("region_ref", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
    ]


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        _upgrade_sqlite()


def _upgrade_postgres() -> None:
    # Identity columns fill existing rows on ADD COLUMN; website refs follow creation order.
    op.add_column("website", sa.Column("ref", sa.Integer(), sa.Identity(), nullable=False))
    op.create_unique_constraint(op.f("uq_website_ref"), "website", ["ref"])
    op.add_column("region", sa.Column("ref", sa.SmallInteger(), sa.Identity(), nullable=False))
    op.create_unique_constraint(op.f("uq_region_ref"), "region", ["ref"])
    _create_tick_error()

    op.execute("ALTER TABLE website_tick RENAME TO website_tick_old")
    op.execute("ALTER INDEX pk_website_tick RENAME TO pk_website_tick_old")
    op.create_table(
        "website_tick",
        *_tick_table("website_tick"),
        sa.PrimaryKeyConstraint(
            "website_ref", "region_ref", "scheduled_at", name=op.f("pk_website_tick")
        ),
        postgresql_partition_by="RANGE (scheduled_at)",
    )
    bind = op.get_bind()
    first, last = bind.execute(
        sa.text(
            "SELECT min(coalesce(scheduled_at, checked_at)), "
            "max(coalesce(scheduled_at, checked_at)) FROM website_tick_old"
        )
    ).one()
    today = datetime.now(UTC).date()
    start = partitions.utc_day(first) if first is not None else today
    end = max(partitions.utc_day(last) if last is not None else today, today)
    for day in partitions.days_between(min(start, today), end + timedelta(days=_DAYS_AHEAD)):
        for statement in partitions.create_statements(day):
            op.execute(statement)
    _copy_ticks(
        delay="round(extract(epoch FROM t.checked_at - coalesce(t.scheduled_at, "
        "t.checked_at)) * 1000)",
        conflict="ON CONFLICT DO NOTHING",
    )
    op.drop_table("website_tick_old")


def _upgrade_sqlite() -> None:
    with op.batch_alter_table("website") as batch:
        batch.add_column(sa.Column("ref", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE website SET ref = (SELECT n FROM (SELECT id AS wid, row_number() OVER "
        "(ORDER BY created_at, id) AS n FROM website) WHERE wid = website.id)"
    )
    with op.batch_alter_table("website") as batch:
        batch.alter_column("ref", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(batch.f("uq_website_ref"), ["ref"])
    with op.batch_alter_table("region") as batch:
        batch.add_column(sa.Column("ref", sa.SmallInteger(), nullable=True))
    op.execute(
        "UPDATE region SET ref = (SELECT n FROM (SELECT id AS rid, row_number() OVER "
        "(ORDER BY id) AS n FROM region) WHERE rid = region.id)"
    )
    with op.batch_alter_table("region") as batch:
        batch.alter_column("ref", existing_type=sa.SmallInteger(), nullable=False)
        batch.create_unique_constraint(batch.f("uq_region_ref"), ["ref"])
    _create_tick_error()

    op.execute("ALTER TABLE website_tick RENAME TO website_tick_old")
    op.execute("DROP INDEX IF EXISTS ix_website_tick_website_checked")
    op.create_table(
        "website_tick",
        *_tick_table("website_tick"),
        sa.PrimaryKeyConstraint(
            "website_ref", "region_ref", "scheduled_at", name=op.f("pk_website_tick")
        ),
    )
    _copy_ticks(
        delay="CAST(round((julianday(t.checked_at) - julianday(coalesce(t.scheduled_at, "
        "t.checked_at))) * 86400000.0) AS INTEGER)",
        conflict="ON CONFLICT DO NOTHING",
    )
    op.drop_table("website_tick_old")


def _create_tick_error() -> None:
    op.create_table(
        "tick_error",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("text", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tick_error")),
        sa.UniqueConstraint("text", name=op.f("uq_tick_error_text")),
    )
    op.execute(
        "INSERT INTO tick_error (text) SELECT DISTINCT error FROM website_tick "
        "WHERE error IS NOT NULL ORDER BY error"
    )


def _copy_ticks(delay: str, conflict: str) -> None:
    # Old rows without a scheduled time get their checked time. Two old rows with the
    # same website, region and scheduled time (one check pushed twice, or NULLs filled
    # alike) become one: the first written (lowest id) is kept.
    op.execute(
        f"""
        INSERT INTO website_tick ({_NEW_COLUMNS})
        SELECT coalesce(t.scheduled_at, t.checked_at), w.ref, {delay}, t.response_time_ms,
               e.id, r.ref, CASE WHEN t.status = 'UP' THEN 0 ELSE 1 END,
               CASE WHEN t.status_code BETWEEN 0 AND 32767 THEN t.status_code END
        FROM website_tick_old t
        JOIN website w ON w.id = t.website_id
        JOIN region r ON r.id = t.region_id
        LEFT JOIN tick_error e ON e.text = t.error
        WHERE true
        ORDER BY t.id
        {conflict}
        """  # noqa: S608 - built from constants, no input
    )


def downgrade() -> None:
    # Back to one row per (region, message): message ids are gone, so each tick gets a
    # made-up one that is unique per region.
    dialect = op.get_context().dialect.name
    op.execute("ALTER TABLE website_tick RENAME TO website_tick_new")
    if dialect == "postgresql":
        op.execute("ALTER INDEX pk_website_tick RENAME TO pk_website_tick_new")
    status = sa.Enum(
        "UP", "DOWN", "UNKNOWN", name="status", native_enum=False, create_constraint=True
    )
    op.create_table(
        "website_tick",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name="fk_website_tick_region_id_region",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name="fk_website_tick_website_id_website",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_website_tick"),
        sa.UniqueConstraint("region_id", "message_id", name="uq_website_tick_region_id_message_id"),
    )
    checked = (
        "t.scheduled_at + t.delay_ms * interval '1 millisecond'"
        if dialect == "postgresql"
        else "strftime('%Y-%m-%d %H:%M:%f', t.scheduled_at, "
        "printf('%+.3f seconds', t.delay_ms / 1000.0)) || '000'"
    )
    message = (
        "'migrated-' || w.ref || '-' || (extract(epoch FROM t.scheduled_at) * 1000000)::bigint"
        if dialect == "postgresql"
        else "'migrated-' || w.ref || '-' || t.scheduled_at"
    )
    op.execute(
        f"""
        INSERT INTO website_tick (website_id, region_id, status, response_time_ms,
                                  status_code, error, scheduled_at, checked_at, message_id)
        SELECT w.id, r.id, CASE WHEN t.status = 1 THEN 'DOWN' ELSE 'UP' END,
               t.response_time_ms, t.status_code, e.text, t.scheduled_at, {checked},
               {message}
        FROM website_tick_new t
        JOIN website w ON w.ref = t.website_ref
        JOIN region r ON r.ref = t.region_ref
        LEFT JOIN tick_error e ON e.id = t.error_id
        ORDER BY t.scheduled_at
        """  # noqa: S608 - built from constants, no input
    )
    op.execute("DROP TABLE website_tick_new" + (" CASCADE" if dialect == "postgresql" else ""))
    with op.batch_alter_table("website_tick") as batch:
        batch.create_index(
            "ix_website_tick_website_checked", ["website_id", "checked_at"], unique=False
        )
    op.drop_table("tick_error")
    with op.batch_alter_table("region") as batch:
        batch.drop_constraint("uq_region_ref", type_="unique")
        batch.drop_column("ref")
    with op.batch_alter_table("website") as batch:
        batch.drop_constraint("uq_website_ref", type_="unique")
        batch.drop_column("ref")
