"""incidents know their website's owner: the incidents page reads one owner's, in order

The incidents page lists one owner's incidents, unresolved first, then resolved, newest
first. Incidents only knew their website, so every page view joined all of the owner's
websites and sorted every incident they ever had (a sequential scan of the whole table
on PostgreSQL: 28 ms for 200,000 incidents of 20 owners, growing with the table). Now each
incident carries its website's owner: an index of (owner, start) gives the owner's
incidents newest first (also to GET /incidents), and a partial one the unresolved ones,
which the page lists first. A page reads about the rows it shows.

The owner is copied by a trigger on insert, so every writer (the alerter, bulk loads,
older code) fills it without knowing about it; a website never changes owner.

Revision ID: 0012_incident_owner_list
Revises: 0011_status_fillfactor
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_incident_owner_list"
down_revision: str | None = "0011_status_fillfactor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRES_FUNCTION = """
CREATE FUNCTION incident_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.owner_id IS NULL THEN
        SELECT owner_id INTO NEW.owner_id FROM website WHERE id = NEW.website_id;
    END IF;
    RETURN NEW;
END $$
"""
_POSTGRES_TRIGGER = """
CREATE TRIGGER incident_owner BEFORE INSERT ON incident
    FOR EACH ROW EXECUTE FUNCTION incident_owner()
"""
# SQLite's triggers cannot change the row being inserted: an update right after it does.
# A migration that later rebuilds the incident table on SQLite (batch mode) must create
# this trigger again: SQLite drops a table's triggers with it.
_SQLITE_TRIGGER = """
CREATE TRIGGER incident_owner AFTER INSERT ON incident WHEN NEW.owner_id IS NULL
BEGIN
    UPDATE incident SET owner_id = (SELECT owner_id FROM website WHERE id = NEW.website_id)
    WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE incident SET owner_id = "
        "(SELECT owner_id FROM website WHERE website.id = incident.website_id)"
    )
    if _postgres():
        op.execute(_POSTGRES_FUNCTION)
        op.execute(_POSTGRES_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_owner_unresolved",
            ["owner_id", "started_at", "id"],
            unique=False,
            postgresql_where=sa.text("state <> 'resolved'"),
            sqlite_where=sa.text("state <> 'resolved'"),
        )
        batch_op.create_index(
            "ix_incident_owner_started", ["owner_id", "started_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_owner_started")
        batch_op.drop_index("ix_incident_owner_unresolved")
    op.execute("DROP TRIGGER incident_owner" + (" ON incident" if _postgres() else ""))
    if _postgres():
        op.execute("DROP FUNCTION incident_owner()")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("owner_id")


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"
