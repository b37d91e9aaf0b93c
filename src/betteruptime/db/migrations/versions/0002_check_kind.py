"""website.kind: what a website's check does (only http so far)

Revision ID: 0002_check_kind
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_check_kind"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default fills existing rows, so the column can be NOT NULL at once.
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="http", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.drop_column("kind")
