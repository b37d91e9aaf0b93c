"""The pipeline tests' migrated engines (PostgreSQL and SQLite), shared rather than copied."""

from tests.pipeline.conftest import engine, pg_engine, sqlite_engine

__all__ = ["engine", "pg_engine", "sqlite_engine"]
