"""Which exceptions mean "the database is away or refused for now": retry them, not bugs."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError


class Contention(Exception):
    """Other writers kept changing or locking the rows a write needed: it gave up for now.

    Nothing of the write is stored, and nothing is wrong with what was asked: the same
    request later should succeed (the API answers 503, a retryable status).
    """


# SQLAlchemy wraps every driver error (asyncpg, aiosqlite) in SQLAlchemyError; a refused or
# timed-out connect can surface as a bare OSError; Contention passes with time too. Anything
# else is a bug: the loop that meets it ends, and with it the process.
DATABASE_FAULTS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, Contention)
