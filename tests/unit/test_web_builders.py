"""The pure builders of the pages: badges, charts and number formats escape and say the truth."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from betteruptime.rules.status import Status
from betteruptime.web.badges import (
    Badge,
    badge_svg,
    response_time_badge,
    status_badge,
    text_width,
    uptime_badge,
)
from betteruptime.web.charts import daily_bars, day_class, response_chart, sparkline
from betteruptime.web.templating import format_percent

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is XML


def test_badge_texts_are_escaped_and_the_svg_is_well_formed() -> None:
    evil = Badge('<script>alert("x")</script>', "a & b", "red")
    svg = badge_svg(evil)
    assert "<script>" not in svg
    root = _parse(svg)
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == '<script>alert("x")</script>: a & b'
    assert int(root.attrib["width"]) == text_width(evil.label) + text_width(evil.message) + 24


def test_status_badges_say_the_status_in_words() -> None:
    assert status_badge(Status.UP).endpoint_json() == {
        "schemaVersion": 1,
        "label": "status",
        "message": "up",
        "color": "brightgreen",
    }
    assert (status_badge(Status.DOWN).message, status_badge(Status.DOWN).color) == ("down", "red")
    assert status_badge(Status.UNKNOWN).color == "lightgrey"


def test_uptime_and_response_badges_grade_their_numbers() -> None:
    assert uptime_badge("30d", None).message == "no data"
    assert uptime_badge("30d", 1.0) == Badge("uptime 30d", "100.00%", "brightgreen")
    assert uptime_badge("7d", 0.99995).message == "99.99%"  # never rounded up to 100%
    assert uptime_badge("7d", 0.985).color == "yellowgreen"
    assert uptime_badge("7d", 0.5).color == "red"
    assert response_time_badge("24h", 123.4) == Badge("response time 24h", "123 ms", "brightgreen")
    assert response_time_badge("24h", 5000).color == "red"
    assert response_time_badge("24h", None).message == "no data"


def test_percentages_never_claim_a_perfect_record_that_was_not() -> None:
    assert format_percent(None) == "—"
    assert format_percent(1.0) == "100.00%"
    assert format_percent(0.99999) == "99.99%"
    assert format_percent(0.5) == "50.00%"


def test_daily_bars_carry_each_days_uptime_as_title_text() -> None:
    html = str(
        daily_bars(date(2026, 11, 1), [0, 1440, 100, 1440], [0, 0, 3, 720], 'uptime of <"shop">')
    )
    root = ET.fromstring(html)  # noqa: S314 - our own output, parsed to prove it is XML
    assert root.attrib == {"class": "bars", "role": "img", "aria-label": 'uptime of <"shop">'}
    bars = list(root)
    assert [b.tag for b in bars] == ["i"] * 4
    assert [b.attrib["class"] for b in bars] == ["none", "ok", "partial", "bad"]
    assert [b.attrib["title"] for b in bars] == [
        "2026-11-01: no data",
        "2026-11-02: 100.00% up (1,440 checks)",
        "2026-11-03: 97.00% up (100 checks)",
        "2026-11-04: 50.00% up (1,440 checks)",
    ]
    assert day_class(10, 0.95) == "partial" and day_class(10, 0.9499) == "bad"


def test_daily_bars_follow_the_calendar_across_months_and_reuse_nothing_wrong() -> None:
    # The same counts on different days share their cached text, never their date.
    html = str(daily_bars(date(2026, 2, 27), [10, 10, 10], [1, 1, 1], "x"))
    titles = [b.attrib["title"] for b in ET.fromstring(html)]  # noqa: S314 - our own output
    assert titles == [
        f"{d}: 90.00% up (10 checks)" for d in ("2026-02-27", "2026-02-28", "2026-03-01")
    ]
    assert str(daily_bars(date(2026, 1, 1), [], [], "none")).count("<i ") == 0


def test_lines_break_where_nothing_was_measured() -> None:
    root = _parse(str(sparkline([10.0, 20.0, None, 5.0, 6.0, None, 7.0], "<label>")))
    assert root.attrib["aria-label"] == "<label>"
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}circle")) == 1
    empty = _parse(str(sparkline([None, None], "nothing")))
    assert list(empty) == []
    chart = _parse(str(response_chart([120.0, None, 80.0, 90.0], "chart", "24 h")))
    texts = [t.text for t in chart.findall(f"{SVG}text")]
    assert "200 ms" in texts and "24 h ago" in texts and "now" in texts
    assert "no measurements yet" in [
        t.text for t in _parse(str(response_chart([None], "c", "24 h"))).findall(f"{SVG}text")
    ]


def test_durations_read_in_their_two_largest_units() -> None:
    from betteruptime.web.templating import format_duration

    assert format_duration(0) == "0 s"
    assert format_duration(40.7) == "40 s"
    assert format_duration(125) == "2 min 5 s"
    assert format_duration(3600 * 2 + 300) == "2 h 5 min"
    assert format_duration(86_400 * 3 + 7) == "3 d 7 s"
