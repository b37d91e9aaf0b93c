"""The OpenAPI document, with the limits that come from this app's settings."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from betteruptime.config import Settings
from betteruptime.routes import documented


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make /openapi.json state the settings' interval minimum, as the routes enforce it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=documented(app.routes),
                tags=app.openapi_tags,
                servers=app.servers,
            )
            for name in ("WebsiteCreate", "WebsiteUpdate"):
                _set_minimum(schema, name, "interval_seconds", settings.min_interval_seconds)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _set_minimum(schema: dict[str, Any], model: str, field: str, minimum: int) -> None:
    prop = schema["components"]["schemas"][model]["properties"][field]
    for variant in [prop, *prop.get("anyOf", [])]:
        if variant.get("type") == "integer":
            variant["minimum"] = minimum
