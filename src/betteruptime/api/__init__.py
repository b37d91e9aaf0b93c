"""The HTTP API: dependencies, schemas, errors and routes."""
