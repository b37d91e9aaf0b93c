"""The Jinja2 environment of the pages: autoescaping on, undefined names are errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates() -> jinja2.Environment:
    """Return the environment that renders every page."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Every template is HTML: escape everything that is not marked safe on purpose.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = format_utc
    env.filters["ago"] = format_ago
    env.filters["pct"] = format_percent
    env.filters["ms"] = format_ms
    env.filters["duration"] = format_duration
    env.filters["cause"] = format_cause
    return env


def format_utc(value: datetime | None) -> str:
    """Return a time as `2026-11-27 07:52 UTC`, or an em dash."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_ago(value: datetime | None, now: datetime) -> str:
    """Return how long ago a time was, in the largest whole unit."""
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if seconds < 5:
        return "just now"
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def format_percent(value: float | None) -> str:
    """Return a ratio as a percentage with two decimals (never rounded up to 100%)."""
    if value is None:
        return "—"
    percent = value * 100
    # 99.996% must not read as 100.00%: that claims no failure at all.
    if value < 1 and percent > 99.99:
        return "99.99%"
    return f"{percent:.2f}%"


def format_ms(value: float | None) -> str:
    """Return a response time in whole milliseconds, or an em dash."""
    if value is None:
        return "—"
    return f"{round(value)} ms"


def format_duration(seconds: float) -> str:
    """Return a duration in its two largest whole units, e.g. `2 h 5 min` or `40 s`."""
    left = int(seconds)
    parts: list[str] = []
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if left >= size or (size == 1 and not parts):
            parts.append(f"{left // size} {unit}")
            left %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def format_cause(cause: Mapping[str, Any]) -> str:
    """Return an incident's cause in words: its error and where it was seen."""
    error = cause.get("error")
    code = cause.get("status_code")
    text = str(error) if error else (f"HTTP {code}" if code else "checks failed")
    regions = [str(r) for r in cause.get("regions") or []]
    if regions:
        text += f" (in {', '.join(regions)})"
    return text
