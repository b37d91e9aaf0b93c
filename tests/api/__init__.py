"""HTTP API tests, each run against SQLite and PostgreSQL."""
