"""hourly and daily rollups of ticks, and the progress of their maintenance

Revision ID: 0004_rollups
Revises: 0003_compact_ticks
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rollups"
down_revision: str | None = "0003_compact_ticks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 43 histogram buckets, as betteruptime.rules.histogram.BUCKETS (copied: a migration must
# not change when the code it was written with does).
HISTOGRAM_COLUMNS = [f"h{i:02d}" for i in range(43)]


def _create_rollup(
    name: str,
    period: sa.Column[object],
    count: sa.types.TypeEngine[int],
    big: sa.types.TypeEngine[int],
) -> None:
    op.create_table(
        name,
        sa.Column("website_ref", sa.Integer(), nullable=False),
        sa.Column("region_ref", sa.SmallInteger(), nullable=False),
        period,
        sa.Column("checks", count, nullable=False),
        sa.Column("failures", count, nullable=False),
        sa.Column("degraded", count, nullable=False),
        sa.Column("rt_count", count, nullable=False),
        sa.Column("rt_sum", big, nullable=False),
        sa.Column("rt_min", sa.Integer(), nullable=True),
        sa.Column("rt_max", sa.Integer(), nullable=True),
        *(sa.Column(c, count, nullable=True) for c in HISTOGRAM_COLUMNS),
        sa.ForeignKeyConstraint(
            ["region_ref"],
            ["region.ref"],
            name=op.f(f"fk_{name}_region_ref_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["website_ref"],
            ["website.ref"],
            name=op.f(f"fk_{name}_website_ref_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("website_ref", "region_ref", period.name, name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(
            f"ix_{name}_{period.name}", [period.name], unique=False, postgresql_using="brin"
        )


def upgrade() -> None:
    _create_rollup(
        "tick_rollup_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.SmallInteger(),
        sa.Integer(),
    )
    _create_rollup(
        "tick_rollup_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Integer(),
        sa.BigInteger(),
    )
    op.create_table(
        "rollup_progress",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("rolled_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recomputed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_progress")),
    )


def downgrade() -> None:
    op.drop_table("rollup_progress")
    for name, period in (("tick_rollup_daily", "day"), ("tick_rollup_hourly", "hour")):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{name}_{period}")
        op.drop_table(name)
