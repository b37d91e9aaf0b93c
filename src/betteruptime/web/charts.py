"""Charts built on the server (inline SVG, and daily bars as plain elements): pure functions
of numbers, escaped, no script.

Colours come from classes in the stylesheet (the page's Content-Security-Policy allows no
inline style), so light and dark themes restyle charts too.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import date, timedelta

from markupsafe import Markup, escape

from betteruptime.rules.rollup import success_ratio
from betteruptime.web.templating import format_percent

SVG_NS = "http://www.w3.org/2000/svg"
# A day below this success ratio is drawn as an outage, below 1.0 as degraded.
OUTAGE_BELOW = 0.95


def day_class(checks: int, ratio: float | None) -> str:
    """Return the CSS class of a day's bar: none, ok, partial or bad."""
    if checks == 0 or ratio is None:
        return "none"
    if ratio >= 1.0:
        return "ok"
    return "partial" if ratio >= OUTAGE_BELOW else "bad"


def _uptime_text(checks: int, failures: int) -> str:
    """Return a day's uptime in words, or "no data"."""
    ratio = success_ratio(checks, failures)
    if ratio is None:
        return "no data"
    return f"{format_percent(ratio)} up ({checks:,} checks)"


@functools.lru_cache(maxsize=64)
def _bar_starts(first: date, days: int) -> tuple[str, ...]:
    """Return the opening of each day's bar, up to its hover text's date (shared by all)."""
    return tuple(f'<i title="{(first + timedelta(days=i)).isoformat()}: ' for i in range(days))


def _bar_end(checks: int, failures: int) -> str:
    """Return the rest of a bar of these counts, from its uptime on."""
    ratio = success_ratio(checks, failures)
    return f'{_uptime_text(checks, failures)}" class="{day_class(checks, ratio)}"></i>'


class _BarEnds(dict[tuple[int, int], str]):
    """The ends of bars by (checks, failures): most days of most websites repeat a few."""

    def __missing__(self, key: tuple[int, int]) -> str:
        # Distinct counts are few (a day's checks follow the interval), but bounded anyway.
        if len(self) >= 65_536:
            self.clear()
        end = self[key] = _bar_end(*key)
        return end


_BAR_ENDS = _BarEnds()


def daily_bars(first: date, checks: Sequence[int], failures: Sequence[int], label: str) -> Markup:
    """Return one bar per day from first on (oldest left), each with its uptime on hover.

    A status page draws 90 of these per website, 45,000 for 500 websites: each bar is two
    cached strings (its date's, and its counts') and the hover text is the title of a
    plain element, not a nested SVG <title>, which halves the page's bytes. Screen
    readers get the label (role="img"); the texts hold only dates and numbers.
    """
    # Iterators over C callables (a dict lookup, zip, chain): no Python frame per bar.
    ends = map(_BAR_ENDS.__getitem__, zip(checks, failures, strict=True))
    pairs = zip(_bar_starts(first, len(checks)), ends, strict=True)
    bars = "".join(itertools.chain.from_iterable(pairs))
    return Markup(  # noqa: S704 - dates and numbers, the label escaped here
        f'<span class="bars" role="img" aria-label="{escape(label)}">{bars}</span>'
    )


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
