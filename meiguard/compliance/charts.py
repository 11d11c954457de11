"""Inline-SVG charts of a report, computed here (plain arithmetic, tested like any function) and drawn by
``compliance/partials/_target_chart.html`` and ``_trend_chart.html`` (no JavaScript, no chart library).

Each chart has ``role="img"``, a ``<title>`` and a ``<desc>`` stating every number, and a data table under it;
bars off target are told apart by a hatch pattern as well as colour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from . import policy
from .choices import FigureStatus, Unit

WIDTH = 720
ROW = 34
LEFT = 200
RIGHT = 60
TOP = 10


@dataclass(frozen=True, slots=True)
class HBar:
    label: str
    y: float
    width: float
    value: str
    target_x: float | None
    css: str  # "s-ok" | "s-off" | "s-none"
    text_x: float
    title: str


@dataclass(frozen=True, slots=True)
class TargetChart:
    id: str
    title: str
    summary: str
    width: int
    height: int
    left: int
    right: int
    bars: tuple[HBar, ...]
    ticks: tuple[tuple[float, int], ...]


def _x(value: float) -> float:
    return round(LEFT + (WIDTH - LEFT - RIGHT) * max(0.0, min(value, 100.0)) / 100, 1)


def _css(status: str) -> str:
    css: dict[str, str] = {FigureStatus.MET: "s-ok", FigureStatus.OFF_TARGET: "s-off"}
    return css.get(status, "s-none")


def target_chart(rows: list[dict[str, Any]], labels: dict[str, str]) -> TargetChart:
    """One horizontal bar (0–100 %) per share figure, with its target as a vertical mark."""
    shares = [r for r in rows if r["unit"] == Unit.PERCENT]
    bars = []
    parts = []
    for i, r in enumerate(shares):
        y = TOP + i * ROW
        value = float(r["value"] or 0)
        target = r.get("target") or {}
        shown = policy.shown_value(r)
        label = labels.get(r["code"], r["label"])
        title = _("%(label)s:%(value)s,目标 %(target)s") % {
            "label": label,
            "value": shown,
            "target": policy.target_text(r) or "—",
        }
        parts.append(title)
        bars.append(
            HBar(
                label=label,
                y=y,
                width=round(_x(value) - LEFT, 1) if r["value"] is not None else 0,
                value=shown,
                target_x=_x(float(target["value"])) if target else None,
                css=_css(r["status"]),
                text_x=_x(value) + 4 if r["value"] is not None else LEFT + 4,
                title=title,
            )
        )
    height = TOP + ROW * len(shares) + 24
    ticks = tuple((_x(v), v) for v in (0, 25, 50, 75, 100))
    return TargetChart(
        id="chart-targets",
        title=_("各项比例指标与目标"),
        summary="; ".join(parts),
        width=WIDTH,
        height=height,
        left=LEFT,
        right=WIDTH - RIGHT,
        bars=tuple(bars),
        ticks=ticks,
    )


T_WIDTH = 220
T_HEIGHT = 120
T_LEFT, T_RIGHT, T_TOP, T_BOTTOM = 30, 6, 10, 24


@dataclass(frozen=True, slots=True)
class VBar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    id: str
    code: str
    title: str
    summary: str
    bars: tuple[VBar, ...]
    target_y: float | None
    labels: tuple[tuple[float, str], ...]
    rows: tuple[tuple[str, str], ...]  # data table: month, value
    width: int = T_WIDTH
    height: int = T_HEIGHT
    plot_left: int = T_LEFT
    plot_right: int = T_WIDTH - T_RIGHT
    plot_bottom: int = T_HEIGHT - T_BOTTOM


def _y(value: float) -> float:
    return round(T_TOP + (T_HEIGHT - T_TOP - T_BOTTOM) * (1 - max(0.0, min(value, 100.0)) / 100), 1)


def trend_charts(
    months: list[tuple[dt.date, Any]], codes: list[str], labels: dict[str, str]
) -> list[TrendChart]:
    """A small 6-month bar chart per share figure, from the stored reports (a month without one is a gap)."""
    out = []
    step = (T_WIDTH - T_LEFT - T_RIGHT) / max(len(months), 1)
    for code in codes:
        bars, texts, table = [], [], []
        target_y = None
        for i, (month, report) in enumerate(months):
            row = next((r for r in (report.figures if report else []) if r["code"] == code), None)
            name = f"{month:%Y-%m}"
            shown = policy.shown_value(row) if row else "—"
            table.append((name, shown))
            texts.append(f"{name} {shown}")
            if row and row.get("target"):
                target_y = _y(float(row["target"]["value"]))
            if row and row["value"] is not None:
                y = _y(float(row["value"]))
                bars.append(
                    VBar(
                        x=round(T_LEFT + i * step + step * 0.15, 1),
                        y=y,
                        width=round(step * 0.7, 1),
                        height=round(T_HEIGHT - T_BOTTOM - y, 1),
                        css=_css(row["status"]),
                        title=f"{name}:{shown}",
                    )
                )
        label = labels.get(code, code)
        out.append(
            TrendChart(
                id=f"trend-{code}",
                code=code,
                title=_("%(label)s 近6个月") % {"label": label},
                summary="; ".join(texts),
                bars=tuple(bars),
                target_y=target_y,
                labels=tuple(
                    (round(T_LEFT + i * step + step / 2, 1), f"{m:%m}") for i, (m, _r) in enumerate(months)
                ),
                rows=tuple(table),
            )
        )
    return out
