"""public status pages and badge keys

Revision ID: 0008_web
Revises: 0006_notifications
Create Date: 2026-11-27
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_web"
down_revision: str | None = "0007_check_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_page",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("show_urls", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_status_page_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_page")),
        sa.UniqueConstraint("slug", name=op.f("uq_status_page_slug")),
    )
    with op.batch_alter_table("status_page", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_page_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "status_page_website",
        sa.Column("status_page_id", sa.Uuid(), nullable=False),
        sa.Column("website_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_page_id"],
            ["status_page.id"],
            name=op.f("fk_status_page_website_status_page_id_status_page"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["website.id"],
            name=op.f("fk_status_page_website_website_id_website"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "status_page_id", "website_id", name=op.f("pk_status_page_website")
        ),
    )
    with op.batch_alter_table("status_page_website", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_page_website_website_id"), ["website_id"], unique=False
        )

    # Existing websites get a key each, drawn here (not by the database's random(), which
    # is not meant for secrets); then the column becomes required and unique.
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.add_column(sa.Column("badge_key", sa.String(length=24), nullable=True))
    website = sa.table("website", sa.column("id", sa.Uuid()), sa.column("badge_key", sa.String))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.select(website.c.id))]
    for website_id in ids:
        bind.execute(
            website.update()
            .where(website.c.id == website_id)
            .values(badge_key=secrets.token_urlsafe(18))
        )
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.alter_column("badge_key", existing_type=sa.String(length=24), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_website_badge_key"), ["badge_key"])


def downgrade() -> None:
    with op.batch_alter_table("website", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_website_badge_key"), type_="unique")
        batch_op.drop_column("badge_key")
    with op.batch_alter_table("status_page_website", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_page_website_website_id"))
    op.drop_table("status_page_website")
    with op.batch_alter_table("status_page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_page_owner_id"))
    op.drop_table("status_page")
