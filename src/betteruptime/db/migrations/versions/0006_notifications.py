"""notifications: channels, which websites notify them, deliveries and their attempts

Revision ID: 0006_notifications
Revises: 0005_incidents
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_notifications"
down_revision: str | None = "0005_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("state = 'pending'")
# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url_encrypted", sa.String(length=4096), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_channel_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel")),
    )
    op.create_index(op.f("ix_channel_owner_id"), "channel", ["owner_id"])
    op.create_table(
        "website_channel",
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_website_channel_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_website_channel_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_id", "channel_id", name=op.f("pk_website_channel")),
    )
    op.create_index(op.f("ix_website_channel_channel_id"), "website_channel", ["channel_id"])
    op.create_table(
        "notification_delivery",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("event_id", _BIGINT, nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_notification_delivery_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["incident_event.id"],
            name=op.f("fk_notification_delivery_event_id_incident_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_notification_delivery_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
        sa.UniqueConstraint(
            "event_id", "channel_id", name=op.f("uq_notification_delivery_event_id_channel_id")
        ),
    )
    op.create_index(
        "ix_notification_delivery_due",
        "notification_delivery",
        ["next_attempt_at"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.create_index("ix_notification_delivery_channel_id", "notification_delivery", ["channel_id"])
    op.create_table(
        "delivery_attempt",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("delivery_id", _BIGINT, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_delivery.id"],
            name=op.f("fk_delivery_attempt_delivery_id_notification_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
    )
    op.create_index("ix_delivery_attempt_delivery_id", "delivery_attempt", ["delivery_id", "id"])


def downgrade() -> None:
    op.drop_table("delivery_attempt")
    op.drop_table("notification_delivery")
    op.drop_table("website_channel")
    op.drop_table("channel")
