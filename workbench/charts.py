"""The reports page's charts as geometry for server-rendered SVG
(templates/workbench/_charts.html).

Drawn on the server so the page needs no chart library and no outside
resource, and the Content-Security-Policy stays as it is (no inline script or
style: colours come from app.css classes). Labels are translated here, in the
reader's language; each chart has the table beneath it as its text twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext_lazy

from workbench.reports import SCORES, Report

WIDTH, HEIGHT = 480, 220  # the viewBox; the SVG scales to its box
LEFT, RIGHT, TOP, BOTTOM = 64, 28, 12, 28  # room for the axes' labels (and a bar's count at the right)
MAX_X_LABELS = 7

OUTCOMES = (  # the stack, bottom up: (row field or None for the rest, label, css class)
    ("bot_only", pgettext_lazy("report outcome", "Bot only"), "chart__bot"),
    ("handled", pgettext_lazy("report outcome", "Handled by an agent"), "chart__handled"),
    (None, pgettext_lazy("report outcome", "Waited, no agent"), "chart__unanswered"),
)
TIMES = (  # the lines: (row field, label, css class)
    ("wait_p50_s", gettext_lazy("Wait p50"), "chart__wait50"),
    ("wait_p90_s", gettext_lazy("Wait p90"), "chart__wait90"),
    ("first_response_p50_s", gettext_lazy("First response p50"), "chart__first50"),
    ("first_response_p90_s", gettext_lazy("First response p90"), "chart__first90"),
)


@dataclass
class Chart:
    """One chart: its marks, axis ticks, day labels and legend."""

    title: str
    marks: list[dict[str, Any]] = field(default_factory=list)  # rects and polylines
    points: list[dict[str, Any]] = field(default_factory=list)  # dots with their tooltip
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_labels: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, str]] = field(default_factory=list)
    empty: bool = False
    width: int = WIDTH
    height: int = HEIGHT


def build(by_day: Report) -> dict[str, Chart]:
    """The page's three charts from the by-day report."""
    return {
        "volume": volume(by_day.rows),
        "times": times(by_day.rows),
        "ratings": ratings(by_day.distribution),
    }


def volume(rows: list[dict[str, Any]]) -> Chart:
    """Conversations per day, stacked by outcome."""
    chart = Chart(gettext("Conversations per day, by outcome"))
    top = _nice(max((row["conversations"] for row in rows), default=0))
    chart.empty = not any(row["conversations"] for row in rows)
    slot = _plot_width() / max(len(rows), 1)
    for index, row in enumerate(rows):
        y = HEIGHT - BOTTOM
        rest = row["conversations"] - row["bot_only"] - row["handled"]
        for name, label, css in OUTCOMES:
            value = row[name] if name else rest
            if value <= 0:
                continue
            height = value / top * _plot_height()
            y -= height
            chart.marks.append(
                {
                    "kind": "rect",
                    "x": _r(LEFT + slot * index + slot * 0.15),
                    "y": _r(y),
                    "width": _r(slot * 0.7),
                    "height": _r(height),
                    "css": css,
                    "title": f"{row['key']}: {label} {value}",
                }
            )
    chart.y_ticks = _ticks(top, lambda value: f"{value:g}")
    chart.x_labels = _x_labels(rows, slot)
    chart.legend = [{"label": str(label), "css": css} for _, label, css in OUTCOMES]
    return chart


def times(rows: list[dict[str, Any]]) -> Chart:
    """Waiting and first-response time, p50 and p90 per day (days without a sample break the line)."""
    chart = Chart(gettext("Waiting and first response per day (p50, p90)"))
    values = [row[name] for row in rows for name, _, _ in TIMES if row[name] is not None]
    chart.empty = not values
    top = _nice_duration(max(values, default=0))
    slot = _plot_width() / max(len(rows), 1)
    for name, label, css in TIMES:
        line: list[str] = []
        for index, row in enumerate(rows):
            value = row[name]
            if value is None:
                _end_line(chart, line, css)
                line = []
                continue
            x = _r(LEFT + slot * index + slot / 2)
            y = _r(HEIGHT - BOTTOM - value / top * _plot_height())
            line.append(f"{x},{y}")
            chart.points.append({"x": x, "y": y, "css": css, "title": f"{row['key']}: {label} {duration(value)}"})
        _end_line(chart, line, css)
    chart.y_ticks = _ticks(top, duration)
    chart.x_labels = _x_labels(rows, slot)
    chart.legend = [{"label": str(label), "css": css} for _, label, css in TIMES]
    return chart


def ratings(distribution: dict[int, int]) -> Chart:
    """How many ratings of each score (1 to 5 stars), as horizontal bars."""
    chart = Chart(gettext("Ratings of conversations closed in the range"), height=160)
    top = _nice(max(distribution.values(), default=0))
    chart.empty = not any(distribution.values())
    band = (chart.height - TOP - BOTTOM) / len(SCORES)
    for index, score in enumerate(reversed(SCORES)):
        count = distribution.get(score, 0)
        y = TOP + band * index
        label = ngettext("%(stars)s star", "%(stars)s stars", score) % {"stars": score}
        chart.x_labels.append({"x": LEFT - 6, "y": _r(y + band / 2 + 4), "text": label})
        chart.marks.append(
            {
                "kind": "rect",
                "x": LEFT,
                "y": _r(y + band * 0.15),
                "width": _r(count / top * _plot_width()),
                "label_x": _r(LEFT + count / top * _plot_width() + 4),
                "height": _r(band * 0.7),
                "css": "chart__rating",
                "title": f"{label}: {count}",
                "value": count,
            }
        )
    return chart


def duration(seconds: float | None) -> str:
    """A short duration in the reader's language: 45 s, 3.5 min, 2.1 h."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return gettext("%(n)s s") % {"n": f"{seconds:.0f}"}
    if seconds < 90 * 60:
        return gettext("%(n)s min") % {"n": f"{seconds / 60:.1f}"}
    return gettext("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}


def _end_line(chart: Chart, line: list[str], css: str) -> None:
    if len(line) > 1:
        chart.marks.append({"kind": "line", "points": " ".join(line), "css": css})


def _plot_width() -> float:
    return WIDTH - LEFT - RIGHT


def _plot_height() -> float:
    return HEIGHT - TOP - BOTTOM


def _nice(value: float) -> float:
    """A round top for an axis at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _nice_duration(seconds: float) -> float:
    """A round top for a time axis: in seconds, minutes or hours, as its labels read."""
    for unit, limit in ((1, 90), (60, 90 * 60)):
        if seconds < limit:
            return _nice(seconds / unit) * unit
    return _nice(seconds / 3600) * 3600


def _ticks(top: float, label) -> list[dict[str, Any]]:
    return [
        {"y": _r(HEIGHT - BOTTOM - share * _plot_height()), "x2": WIDTH - RIGHT, "text": label(top * share)}
        for share in (0, 0.5, 1)
    ]


def _x_labels(rows: list[dict[str, Any]], slot: float) -> list[dict[str, Any]]:
    every = max(1, math.ceil(len(rows) / MAX_X_LABELS))
    return [
        {"x": _r(LEFT + slot * index + slot / 2), "y": HEIGHT - 8, "text": str(row["key"])[5:]}
        for index, row in enumerate(rows)
        if index % every == 0
    ]


def _r(value: float) -> float:
    return round(value, 1)
