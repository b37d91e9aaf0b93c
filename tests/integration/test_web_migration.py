"""Migration 0008_web gives websites that existed before it a badge key each."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, text

from betteruptime.db.migrate import alembic_config, upgrade_to_head
from betteruptime.db.session import create_engine


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_existing_websites_get_distinct_badge_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0008_web-1")
            user = uuid.uuid4().hex
            await conn.execute(
                text(
                    "INSERT INTO users (id, username, email, password_hash, "
                    "tokens_valid_after, created_at) VALUES (:id, 'u', 'u@example.com', 'x', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": user},
            )
            for i in range(3):
                await conn.execute(
                    text(
                        "INSERT INTO website (id, owner_id, url, name, interval_seconds, "
                        "timeout_seconds, enabled, created_at, next_check_at, ref) VALUES "
                        "(:id, :owner, :url, NULL, 60, 10, 1, '2026-01-01 00:00:00', "
                        "'2026-01-01 00:00:00', :ref)"
                    ),
                    {
                        "id": uuid.uuid4().hex,
                        "owner": user,
                        "url": f"https://{i}.example/",
                        "ref": i + 1,
                    },
                )
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            keys = list((await conn.execute(text("SELECT badge_key FROM website"))).scalars())
        assert len(keys) == 3 and len(set(keys)) == 3
        assert all(isinstance(k, str) and len(k) == 24 for k in keys)
    finally:
        await engine.dispose()
