"""indexes for public status pages: daily checks and failures, recently resolved incidents

Revision ID: 0010_status_page_index
Revises: 0009_revoked_tokens
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_status_page_index"
down_revision: str | None = "0009_revoked_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A status page reads 90 days of checks and failures of hundreds of websites: from
    # this index alone on PostgreSQL (an index-only scan, in website order, so they are
    # grouped without a hash), instead of one wide heap row (43 histogram buckets) per
    # website and day. SQLite has no INCLUDE and gets the two key columns only.
    with op.batch_alter_table("tick_rollup_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tick_rollup_daily_uptime",
            ["website_ref", "day"],
            unique=False,
            postgresql_include=["checks", "failures"],
        )
    # A status page lists the incidents resolved in the last 14 days: a short range of this
    # index per website, where (website_id, started_at) walks each website's whole history.
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_website_resolved", ["website_id", "resolved_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_website_resolved")
    with op.batch_alter_table("tick_rollup_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_tick_rollup_daily_uptime")
