"""Which exceptions mean "the database is away or refused for now": retry them, not bugs."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

# SQLAlchemy wraps every driver error (asyncpg, aiosqlite) in SQLAlchemyError; a refused or
# timed-out connect can surface as a bare OSError. Anything else is a bug: the loop that
# meets it ends, and with it the process.
DATABASE_FAULTS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)
