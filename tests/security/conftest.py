"""The API fixtures (an in-process app on SQLite or PostgreSQL) for the security tests."""

from tests.api.conftest import (  # noqa: F401 - pytest finds fixtures by name
    anonymous,
    api,
    backend,
    database_url,
    migrated_postgres_url,
    other,
    owner,
    start_api,
)
