"""incidents: thresholds per website, streaks per region, incidents and their events

Revision ID: 0005_incidents
Revises: 0004_rollups
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_incidents"
down_revision: str | None = "0004_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNRESOLVED = sa.text("state <> 'resolved'")
_UNFANNED = sa.text("fanned_out_at IS NULL")
_AWAITING = sa.text("awaiting_recovery")


def upgrade() -> None:
    with op.batch_alter_table("website") as batch_op:
        batch_op.add_column(sa.Column("confirmation_checks", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("recovery_checks", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("regions_required", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("reminder_minutes", sa.Integer(), nullable=True))

    with op.batch_alter_table("region") as batch_op:
        batch_op.add_column(
            sa.Column("votes_ignored_since", sa.DateTime(timezone=True), nullable=True)
        )

    # Existing rows: their streak is unknown, so it starts at one at the last change.
    with op.batch_alter_table("website_status") as batch_op:
        batch_op.add_column(
            sa.Column("streak", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.add_column(
            sa.Column("streak_started_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE website_status SET streak_started_at = changed_at")
    with op.batch_alter_table("website_status") as batch_op:
        batch_op.alter_column(
            "streak_started_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "evaluation",
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_evaluation_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_id", name=op.f("pk_evaluation")),
    )

    op.create_table(
        "incident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("cause", sa.JSON(), nullable=False),
        sa.Column(
            "awaiting_recovery", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_incident_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_incident_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_incident_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_incident_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(
        "uq_incident_unresolved",
        "incident",
        ["website_id"],
        unique=True,
        postgresql_where=_UNRESOLVED,
        sqlite_where=_UNRESOLVED,
    )
    op.create_index("ix_incident_website_started", "incident", ["website_id", "started_at"])
    op.create_index(
        "ix_incident_awaiting_recovery",
        "incident",
        ["website_id"],
        postgresql_where=_AWAITING,
        sqlite_where=_AWAITING,
    )

    op.create_table(
        "incident_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('opened', 'acknowledged', 'reminder', 'resolved')",
            name=op.f("ck_incident_event_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_incident_event_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index("ix_incident_event_incident_id", "incident_event", ["incident_id", "id"])
    op.create_index(
        "ix_incident_event_unfanned",
        "incident_event",
        ["id"],
        postgresql_where=_UNFANNED,
        sqlite_where=_UNFANNED,
    )


def downgrade() -> None:
    op.drop_table("incident_event")
    op.drop_table("incident")
    op.drop_table("evaluation")
    with op.batch_alter_table("website_status") as batch_op:
        batch_op.drop_column("streak_started_at")
        batch_op.drop_column("streak")
    with op.batch_alter_table("region") as batch_op:
        batch_op.drop_column("votes_ignored_since")
    with op.batch_alter_table("website") as batch_op:
        batch_op.drop_column("reminder_minutes")
        batch_op.drop_column("regions_required")
        batch_op.drop_column("recovery_checks")
        batch_op.drop_column("confirmation_checks")
