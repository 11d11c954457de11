"""Bar charts as inline SVG, computed here and drawn by ``workspace/partials/_bar_chart.html``.

No JavaScript and no chart library: the geometry is plain arithmetic, so it is tested like any other
function. Each chart is accessible three ways: ``role="img"`` with a ``<title>`` and a ``<desc>`` that
states every number, a data table under it, and series told apart by pattern as well as colour.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext as _

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 18, 40


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    values: tuple[int, ...]
    css: str  # "s-allow", "s-deny", "s-count": fill and pattern come from the template's <defs>


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # "<category> · <series>: <value>", the bar's own <title>
    css: str
    text_x: float
    text_y: float


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    summary: str  # every number, for screen readers (<desc>)
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]
    categories: tuple[str, ...]  # full names, for the data table
    series: tuple[Series, ...]
    total: int
    category_label: str = ""  # the data table's first header ("月份", "产品"…); else 月份/周 by chart id

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """The data table: one row per category, one cell per series."""
        return [(cat, [s.values[i] for s in self.series]) for i, cat in enumerate(self.categories)]


def nice_max(value: int) -> tuple[int, int]:
    """(axis maximum, tick step): a 1/2/5 × 10ⁿ step giving at most five steps above zero."""
    if value <= 0:
        return 4, 1
    magnitude = 10 ** max(0, math.floor(math.log10(value)) - 1)
    for step in (m * magnitude for m in (1, 2, 5, 10, 20, 50, 100)):
        if math.ceil(value / step) <= 5:
            return int(step * math.ceil(value / step)), int(step)
    raise AssertionError("unreachable")  # pragma: no cover


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    axis_labels: Sequence[str],
    series: Sequence[Series],
    summary: str,
) -> Chart:
    """Grouped vertical bars: one group per category, one bar per series."""
    n = len(categories)
    assert n == len(axis_labels) and all(len(s.values) == n for s in series)
    top_value = max((v for s in series for v in s.values), default=0)
    axis_max, step = nice_max(top_value)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    group = plot_w / max(n, 1)
    bar_w = group * 0.72 / max(len(series), 1)
    bars = []
    for i, cat in enumerate(categories):
        x0 = LEFT + i * group + group * 0.14
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / axis_max
            x = x0 + j * bar_w
            bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(bottom - h, 1),
                    width=round(bar_w - 1, 1),
                    height=round(h, 1),
                    value=value,
                    label=f"{cat} · {s.label}: {value}",
                    css=s.css,
                    text_x=round(x + (bar_w - 1) / 2, 1),
                    text_y=round(bottom - h - 4, 1),
                )
            )
    ticks = tuple(Tick(round(bottom - plot_h * v / axis_max, 1), v) for v in range(0, axis_max + 1, step))
    x_labels = tuple(XLabel(round(LEFT + (i + 0.5) * group, 1), text) for i, text in enumerate(axis_labels))
    total = sum(sum(s.values) for s in series)
    return Chart(
        id=chart_id,
        title=title,
        summary=summary,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_bottom=bottom,
        bars=tuple(bars),
        ticks=ticks,
        x_labels=x_labels,
        categories=tuple(categories),
        series=tuple(series),
        total=total,
    )


def expiry_month_chart(months: Sequence[tuple[dt.date, int]], title: str) -> Chart:
    """Items expiring per calendar month."""
    categories = [f"{m:%Y-%m}" for m, _n in months]
    axis = [date_format(m, "M") for m, _n in months]
    values = tuple(n for _m, n in months)
    parts = "; ".join(
        _("%(month)s:%(n)s 项") % {"month": c, "n": v} for c, v in zip(categories, values, strict=True)
    )
    summary = _("%(title)s。合计 %(total)s 项。%(parts)s") % {
        "title": title,
        "total": sum(values),
        "parts": parts,
    }
    series = Series("count", _("到期数"), values, "s-count")
    return bar_chart("chart-expiries", title, categories, axis, [series], summary)


def decision_week_chart(weeks: Sequence[tuple[dt.date, int, int]], title: str) -> Chart:
    """Allowed and denied checks per week (the Monday names the week)."""
    categories = [_("%(day)s 起的一周") % {"day": f"{w:%Y-%m-%d}"} for w, _a, _d in weeks]
    axis = [f"{w:%m-%d}" for w, _a, _d in weeks]
    allowed = tuple(a for _w, a, _d in weeks)
    denied = tuple(d for _w, _a, d in weeks)
    parts = "; ".join(
        _("%(week)s:允许 %(a)s,不允许 %(d)s") % {"week": f"{w:%m-%d}", "a": a, "d": d} for w, a, d in weeks
    )
    summary = _("%(title)s。合计允许 %(a)s 次,不允许 %(d)s 次。%(parts)s") % {
        "title": title,
        "a": sum(allowed),
        "d": sum(denied),
        "parts": parts,
    }
    series = [
        Series("allowed", _("允许(含有警示)"), allowed, "s-allow"),
        Series("denied", _("不允许"), denied, "s-deny"),
    ]
    return bar_chart("chart-decisions", title, categories, axis, series, summary)
