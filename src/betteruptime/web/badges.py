"""Badges: pure builders of shields-style SVG images and shields.io endpoint JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from markupsafe import escape

from betteruptime.rules.status import Status
from betteruptime.web.templating import format_percent

COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "lightgrey": "#9f9f9f",
}
UPTIME_WINDOWS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
RESPONSE_WINDOWS = {k: v for k, v in UPTIME_WINDOWS.items() if k != "90d"}

# Rough advance widths of Verdana 11px, the font shields.io badges are drawn in.
_NARROW = set("iljI!|.,:;'` ()[]1ft")
_WIDE = set("mwMW%@")


@dataclass(frozen=True)
class Badge:
    """What a badge says: the label on the left, the message and its colour on the right."""

    label: str
    message: str
    color: str

    def endpoint_json(self) -> dict[str, Any]:
        """Return the badge in shields.io's endpoint format."""
        return {
            "schemaVersion": 1,
            "label": self.label,
            "message": self.message,
            "color": self.color,
        }


def status_badge(status: Status) -> Badge:
    """Return the badge of a website's overall status."""
    color = {Status.UP: "brightgreen", Status.DOWN: "red"}.get(status, "lightgrey")
    return Badge("status", status.value.lower(), color)


def uptime_badge(window: str, ratio: float | None) -> Badge:
    """Return the badge of a success ratio over a window ("no data" when nothing ran)."""
    label = f"uptime {window}"
    if ratio is None:
        return Badge(label, "no data", "lightgrey")
    for floor, color in (
        (0.999, "brightgreen"),
        (0.99, "green"),
        (0.97, "yellowgreen"),
        (0.95, "yellow"),
        (0.90, "orange"),
    ):
        if ratio >= floor:
            return Badge(label, format_percent(ratio), color)
    return Badge(label, format_percent(ratio), "red")


def response_time_badge(window: str, avg_ms: float | None) -> Badge:
    """Return the badge of the average response time over a window."""
    label = f"response time {window}"
    if avg_ms is None:
        return Badge(label, "no data", "lightgrey")
    for ceiling, color in (
        (300, "brightgreen"),
        (800, "green"),
        (1500, "yellow"),
        (3000, "orange"),
    ):
        if avg_ms < ceiling:
            return Badge(label, f"{round(avg_ms)} ms", color)
    return Badge(label, f"{round(avg_ms)} ms", "red")


def text_width(text: str) -> int:
    """Return the approximate width in pixels of text in Verdana 11px."""
    width = 0.0
    for char in text:
        width += 3.5 if char in _NARROW else 10.0 if char in _WIDE else 7.0
    return round(width)


def badge_svg(badge: Badge) -> str:
    """Return the badge as a self-contained SVG image (every text escaped)."""
    label, message = escape(badge.label), escape(badge.message)
    fill = COLORS.get(badge.color, COLORS["lightgrey"])
    left = text_width(badge.label) + 12
    right = text_width(badge.message) + 12
    total = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label}: {message}">'
        f"<title>{label}: {message}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{fill}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="15" fill="#010101" fill-opacity=".3">{label}</text>'
        f'<text x="{left / 2:.1f}" y="14">{label}</text>'
        f'<text x="{left + right / 2:.1f}" y="15" fill="#010101" fill-opacity=".3">'
        f"{message}</text>"
        f'<text x="{left + right / 2:.1f}" y="14">{message}</text></g></svg>'
    )
