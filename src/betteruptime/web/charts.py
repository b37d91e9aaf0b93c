"""Inline SVG charts built on the server: pure functions of numbers, escaped, no script.

Colours come from classes in the stylesheet (the page's Content-Security-Policy allows no
inline style), so light and dark themes restyle charts too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from markupsafe import Markup, escape

from betteruptime.web.templating import format_percent

SVG_NS = "http://www.w3.org/2000/svg"
# A day below this success ratio is drawn as an outage, below 1.0 as degraded.
OUTAGE_BELOW = 0.95


class DayLike(Protocol):
    """What a daily bar needs of one day's statistics."""

    @property
    def date(self) -> date: ...
    @property
    def checks(self) -> int: ...
    @property
    def success_ratio(self) -> float | None: ...


def day_class(checks: int, ratio: float | None) -> str:
    """Return the CSS class of a day's bar: none, ok, partial or bad."""
    if checks == 0 or ratio is None:
        return "none"
    if ratio >= 1.0:
        return "ok"
    return "partial" if ratio >= OUTAGE_BELOW else "bad"


def day_text(day: DayLike) -> str:
    """Return what a day's bar says on hover and to screen readers."""
    if day.checks == 0 or day.success_ratio is None:
        return f"{day.date.isoformat()}: no data"
    return f"{day.date.isoformat()}: {format_percent(day.success_ratio)} up ({day.checks:,} checks)"


def daily_bars(days: Sequence[DayLike], label: str) -> Markup:
    """Return one bar per day (oldest left), each with its uptime in a <title>."""
    # A status page draws 90 of these per website, 45,000 for 500 websites: one f-string
    # per bar, and no escaping of titles made only of dates and numbers.
    width = 4
    parts = [
        f'<svg xmlns="{SVG_NS}" class="bars" viewBox="0 0 {len(days) * width} 20" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(label)}">'
    ]
    append = parts.append
    for i, day in enumerate(days):
        append(
            f'<rect class="bar bar-{day_class(day.checks, day.success_ratio)}" '
            f'x="{i * width}" y="0" width="{width - 1}" height="20">'
            f"<title>{day_text(day)}</title></rect>"
        )
    append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and dates, the label escaped above


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Return runs of consecutive known values as (index, value) lists."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, value))
    if current:
        runs.append(current)
    return runs


def _points(
    run: list[tuple[int, float]], step: float, top: float, height: float, pad: float
) -> str:
    return " ".join(f"{pad + i * step:.1f},{pad + height - (v / top) * height:.1f}" for i, v in run)


def sparkline(values: Sequence[float | None], label: str) -> Markup:
    """Return a small line of response times (oldest left); gaps where nothing was measured."""
    width, height, pad = 120.0, 24.0, 2.0
    known = [v for v in values if v is not None]
    parts = [
        f'<svg xmlns="{SVG_NS}" class="spark" viewBox="0 0 {width:.0f} {height + 2 * pad:.0f}" '
        f'role="img" aria-label="{escape(label)}">'
    ]
    if known:
        top = max(known) or 1.0
        step = (width - 2 * pad) / max(len(values) - 1, 1)
        for run in _segments(values):
            if len(run) == 1:
                i, v = run[0]
                x, y = pad + i * step, pad + height - (v / top) * height
                parts.append(f'<circle class="spark-dot" cx="{x:.1f}" cy="{y:.1f}" r="1.5"/>')
            else:
                points = _points(run, step, top, height, pad)
                parts.append(f'<polyline class="spark-line" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers, and text escaped above


def response_chart(values: Sequence[float | None], label: str, span: str) -> Markup:
    """Return a response-time chart with its scale written out (oldest left)."""
    width, height, left, pad = 900.0, 140.0, 56.0, 8.0
    known = [v for v in values if v is not None]
    # At least 10 ms of scale, so a fast site's half-way line does not read "0 ms".
    top = _nice_ceiling(max(max(known), 10.0)) if known else 100.0
    plot_w = width - left - pad
    parts = [
        f'<svg xmlns="{SVG_NS}" class="chart" '
        f'viewBox="0 0 {width:.0f} {height + 2 * pad + 16:.0f}" '
        f'role="img" aria-label="{escape(label)}">',
        f'<line class="axis" x1="{left}" y1="{pad}" x2="{left}" y2="{pad + height}"/>',
        f'<line class="axis" x1="{left}" y1="{pad + height}" x2="{width - pad}" '
        f'y2="{pad + height}"/>',
        f'<line class="grid" x1="{left}" y1="{pad + height / 2}" x2="{width - pad}" '
        f'y2="{pad + height / 2}"/>',
        f'<text class="tick" x="{left - 4}" y="{pad + 4}" text-anchor="end">{top:.0f} ms</text>',
        f'<text class="tick" x="{left - 4}" y="{pad + height / 2 + 4}" '
        f'text-anchor="end">{top / 2:.0f} ms</text>',
        f'<text class="tick" x="{left - 4}" y="{pad + height + 4}" text-anchor="end">0</text>',
        f'<text class="tick" x="{left}" y="{pad + height + 16}">{escape(span)} ago</text>',
        f'<text class="tick" x="{width - pad}" y="{pad + height + 16}" '
        f'text-anchor="end">now</text>',
    ]
    if known:
        step = plot_w / max(len(values) - 1, 1)
        for run in _segments(values):
            points = " ".join(
                f"{left + i * step:.1f},{pad + height - (v / top) * height:.1f}" for i, v in run
            )
            if len(run) == 1:
                x, y = points.split(",")
                parts.append(f'<circle class="chart-dot" cx="{x}" cy="{y}" r="2"/>')
            else:
                parts.append(f'<polyline class="chart-line" points="{points}"/>')
    else:
        parts.append(
            f'<text class="tick" x="{left + plot_w / 2}" y="{pad + height / 2}" '
            f'text-anchor="middle">no measurements yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers, and text escaped above


def _nice_ceiling(value: float) -> float:
    """Return a round number at or above value (100, 200, 250, 500, 1000, ...)."""
    if value <= 0:
        return 100.0
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if factor * scale >= value:
            return factor * scale
    return 10 * scale
