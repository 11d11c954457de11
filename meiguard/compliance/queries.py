"""Every read of the compliance-report app, tenant-scoped (``visible_to`` / ``writable_by``).

A report or item the actor cannot see is a 404 (never a 403). The association roll-up covers the institutions
whose organisation the actor's oversight body oversees (``actor.overseen_org_ids``); platform admins see all.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.registry.models import Institution

from . import policy
from .choices import REPORT_WRITERS, FigureStatus, RectificationStatus, Unit
from .figures import FIGURES
from .models import MonthlyReport, Rectification


def institutions(actor: Actor) -> QuerySet[Institution]:
    """Institutions whose reports the actor reads: own institutions (report roles) and overseen ones."""
    qs = Institution.objects.visible_to(actor)
    if actor.is_unrestricted:
        return qs.order_by("name", "pk")
    orgs = actor.org_ids_with_roles(REPORT_WRITERS) | actor.overseen_org_ids
    return qs.filter(organization_id__in=orgs).order_by("name", "pk")


def institution(actor: Actor, institution_id: int) -> Institution:
    found = institutions(actor).filter(pk=institution_id).first()
    if found is None:
        raise NotFoundField("institution_id")
    return found


def reports(
    actor: Actor, *, institution_id: int | None = None, month: dt.date | None = None
) -> QuerySet[MonthlyReport]:
    qs = MonthlyReport.objects.visible_to(actor).filter(institution__in=institutions(actor))
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if month is not None:
        qs = qs.filter(month=policy.month_start(month))
    return qs.select_related("institution", "generated_by").order_by(
        "-month", "institution__name", "-version"
    )


def latest_reports(actor: Actor, institution_id: int | None = None) -> list[MonthlyReport]:
    """The newest version of each institution-month (one query; versions are few)."""
    seen: set[tuple[int, dt.date]] = set()
    out: list[MonthlyReport] = []
    for r in reports(actor, institution_id=institution_id)[:500]:
        if (r.institution_id, r.month) not in seen:
            seen.add((r.institution_id, r.month))
            out.append(r)
    return out


def report(actor: Actor, report_id: int) -> MonthlyReport:
    return get_object_or_404(reports(actor), pk=report_id)


def versions(report: MonthlyReport) -> list[MonthlyReport]:
    return list(
        MonthlyReport.objects.filter(institution_id=report.institution_id, month=report.month).order_by(
            "-version"
        )
    )


def rectifications_of(report: MonthlyReport) -> list[Rectification]:
    """Items raised for this report's month (by any of its versions)."""
    return list(
        Rectification.objects.filter(institution_id=report.institution_id, month=report.month).select_related(
            "closed_by"
        )
    )


def carried_over(report: MonthlyReport) -> list[Rectification]:
    """Items of earlier months still open: shown on this report, red when past their deadline."""
    return list(
        Rectification.objects.filter(
            institution_id=report.institution_id, month__lt=report.month, status=RectificationStatus.OPEN
        ).order_by("due_on", "pk")
    )


def rectification_for_update(actor: Actor, pk: int) -> Rectification:
    return get_object_or_404(
        Rectification.objects.visible_to(actor).select_related("institution").select_for_update(of=("self",)),
        pk=pk,
    )


def trend(report: MonthlyReport) -> list[tuple[dt.date, MonthlyReport | None]]:
    """The report's month and the five before it: the newest stored version of each (one query)."""
    months = [policy.add_months(report.month, -i) for i in range(policy.TREND_MONTHS - 1, -1, -1)]
    found: dict[dt.date, MonthlyReport] = {}
    for r in MonthlyReport.objects.filter(institution_id=report.institution_id, month__in=months).order_by(
        "month", "-version"
    ):
        found.setdefault(r.month, r)
    found[report.month] = report
    return [(m, found.get(m)) for m in months]


# ---- association roll-up ----------------------------------------------------------------------------


@dataclass
class RollupCell:
    institution: Institution
    row: dict[str, Any]


@dataclass
class RollupFigure:
    code: str
    label: str
    unit: str
    cells: list[RollupCell] = field(default_factory=list)
    total: str = "—"
    median: str = "—"
    off_target: int = 0


def member_institutions(actor: Actor) -> QuerySet[Institution]:
    qs = Institution.objects.visible_to(actor)
    if not actor.is_unrestricted:
        qs = qs.filter(organization_id__in=actor.overseen_org_ids)
    return qs.order_by("name", "pk")


def rollup(actor: Actor, month: dt.date, *, limit: int = 200) -> tuple[list[Institution], list[RollupFigure]]:
    """Each figure per member institution, computed live for all members at once (bounded queries), with the
    total (sum of numerators over sum of denominators, or of counts) and the median of the members' values."""
    members = list(member_institutions(actor)[:limit])
    rows, _own = policy.evaluate([m.pk for m in members], month)
    out: list[RollupFigure] = []
    for i, figure in enumerate(FIGURES):
        rf = RollupFigure(figure.code, str(figure.label), figure.unit)
        values: list[float] = []
        num = den = 0
        for m in members:
            row = rows[m.pk][i]
            rf.cells.append(RollupCell(m, row))
            rf.off_target += row["status"] == FigureStatus.OFF_TARGET
            if row["value"] is not None:
                values.append(float(row["value"]))
            if figure.unit == Unit.PERCENT:
                num += row["numerator"] or 0
                den += row["denominator"] or 0
            else:
                num += row["count"] or 0
        if figure.unit == Unit.PERCENT:
            total = policy.percent(num, den)
            rf.total = "—" if total is None else f"{total}% ({num}/{den})"
        else:
            rf.total = str(num)
        if values:
            med = statistics.median(values)
            rf.median = (
                f"{round(med, 1)}%" if figure.unit == Unit.PERCENT else str(round(med, 1)).removesuffix(".0")
            )
        out.append(rf)
    return members, out
