"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "region",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "website",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("interval_seconds > 0", name=op.f("ck_website_interval_positive")),
        sa.CheckConstraint("timeout_seconds > 0", name=op.f("ck_website_timeout_positive")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_website_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_website")),
        sa.UniqueConstraint("owner_id", "url", name=op.f("uq_website_owner_id_url")),
    )
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.create_index("ix_website_due", ["enabled", "next_check_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_website_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "website_status",
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "UP", "DOWN", "UNKNOWN", name="status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_website_status_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_website_status_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_id", "region_id", name=op.f("pk_website_status")),
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
        sa.Column(
            "status",
            sa.Enum(
                "UP", "DOWN", "UNKNOWN", name="status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_website_tick_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_website_tick_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_website_tick")),
        sa.UniqueConstraint(
            "region_id", "message_id", name=op.f("uq_website_tick_region_id_message_id")
        ),
    )
    with op.batch_alter_table("website_tick", schema=None) as batch_op:
        batch_op.create_index(
            "ix_website_tick_website_checked", ["website_id", "checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("website_tick", schema=None) as batch_op:
        batch_op.drop_index("ix_website_tick_website_checked")

    op.drop_table("website_tick")
    op.drop_table("website_status")
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_website_owner_id"))
        batch_op.drop_index("ix_website_due")

    op.drop_table("website")
    op.drop_table("users")
    op.drop_table("region")
