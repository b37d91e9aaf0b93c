"""check kinds: website.options, certificates seen, heartbeats

Revision ID: 0007_check_kinds
Revises: 0006_notifications
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_check_kinds"
down_revision: str | None = "0006_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ping_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_website_ping_key"), ["ping_key"])
    op.create_table(
        "website_certificate",
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("hostname_ok", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_days", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_website_certificate_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_id", name=op.f("pk_website_certificate")),
    )
    op.create_table(
        "heartbeat",
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("last_ping_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_ms", sa.Integer(), nullable=True),
        sa.Column("last_exit_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_body", sa.Text(), nullable=True),
        sa.Column("down_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_heartbeat_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_id", name=op.f("pk_heartbeat")),
    )
    op.create_index(op.f("ix_heartbeat_down_at"), "heartbeat", ["down_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_heartbeat_down_at"), table_name="heartbeat")
    op.drop_table("heartbeat")
    op.drop_table("website_certificate")
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_website_ping_key"), type_="unique")
        batch_op.drop_column("ping_key")
        batch_op.drop_column("options")
