"""A stored report as the page, the PDF and the Excel show it (one builder for the three)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone, translation

from meiguard.core.choices import Role

from . import charts, policy, queries
from .choices import FigureStatus
from .figures import FIGURES_BY_CODE
from .models import MonthlyReport, Rectification


def _reason_label(code: str) -> str:
    from meiguard.reviews.checklist import REASON_LABELS

    label = REASON_LABELS.get(code)
    return str(label) if label else code


def role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


@dataclass
class Row:
    code: str
    label: str
    explain: str
    value: str
    fraction: str  # "12 / 13" for a share
    target: str
    source: str
    policy: bool  # the target is the institution's own setting
    status: str
    status_label: str
    owner: str
    details: list[tuple[str, str, int]] = field(default_factory=list)  # (code, label, n)
    detail_codes: bool = False  # the details are decision reason codes (shown as a chip beside the label)


def rows_of(report: MonthlyReport) -> list[Row]:
    english = not (translation.get_language() or "zh-hans").startswith("zh")
    out = []
    for r in report.figures:
        figure = FIGURES_BY_CODE.get(r["code"])
        target = r.get("target") or {}
        details: list[tuple[str, str, int]] = []
        for key, n in r.get("details", []):
            if figure and figure.detail_prefix:
                details.append((key, _reason_label(key), n))
            else:
                names = dict(figure.details) if figure else {}
                details.append((key, str(names.get(key, key)), n))
        out.append(
            Row(
                code=r["code"],
                label=str(figure.label) if figure else r["label"],
                explain=str(figure.explain) if figure else r.get("explain", ""),
                value=policy.shown_value(r),
                fraction=f"{r['numerator']} / {r['denominator']}" if r.get("denominator") is not None else "",
                target=policy.target_text(r),
                source=(target.get("source_en") if english else target.get("source")) or "",
                policy=bool(target.get("policy")),
                status=r["status"],
                status_label=str(FigureStatus(r["status"]).label),
                owner=role_label(r.get("owner_role", "")),
                details=details,
                detail_codes=bool(figure and figure.detail_prefix),
            )
        )
    return out


@dataclass
class ReportView:
    report: MonthlyReport
    rows: list[Row]
    rectifications: list[Rectification]
    carried: list[Rectification]
    today: dt.date
    versions: list[MonthlyReport]
    target_chart: Any = None
    trends: list[Any] = field(default_factory=list)

    @property
    def off_target(self) -> list[Row]:
        return [r for r in self.rows if r.status == FigureStatus.OFF_TARGET]

    @property
    def overdue(self) -> list[Rectification]:
        return [r for r in self.carried + self.rectifications if r.is_overdue(self.today)]


def build(report: MonthlyReport, *, with_charts: bool = True) -> ReportView:
    rows = rows_of(report)
    labels = {r.code: r.label for r in rows}
    view = ReportView(
        report=report,
        rows=rows,
        rectifications=queries.rectifications_of(report),
        carried=queries.carried_over(report),
        today=timezone.localdate(),
        versions=queries.versions(report),
    )
    for item in [*view.rectifications, *view.carried]:
        item.overdue = item.is_overdue(view.today)  # type: ignore[attr-defined]
        item.owner_label = role_label(item.owner_role)  # type: ignore[attr-defined]
    if with_charts:
        view.target_chart = charts.target_chart(report.figures, labels)
        shares = [r["code"] for r in report.figures if r["unit"] == "percent"]
        view.trends = charts.trend_charts(queries.trend(report), shares, labels)
    return view


def month_label(month: dt.date) -> str:
    return f"{month:%Y-%m}"


__all__ = ["ReportView", "Row", "build", "month_label", "policy"]
