"""Monthly compliance reports over HTTP (mounted at /api/v1/compliance).

Errors use the one envelope ``{code, message, field, errors[]}``: bad input 422, a report, item or institution the
caller cannot see 404, a write they may not do 403, a state conflict 409. Lists are paginated.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import field_validator

from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.permissions import require
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import actions, describe, policy, queries, reports
from .models import MonthlyReport, Rectification

router = Router(tags=["compliance"])

Id = Field(..., ge=1, le=2**53)
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> Actor:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    require(actor, "compliance.view")
    return actor


def _month(value: str) -> dt.date:
    return dt.date(int(value[:4]), int(value[5:7]), 1)


class TargetOut(Schema):
    value: int
    comparison: str
    source: str
    set_by_institution: bool


class FigureOut(Schema):
    code: str
    label: str
    unit: str
    numerator: int | None
    denominator: int | None
    count: int | None
    value: float | None
    target: TargetOut | None
    status: str
    status_label: str
    owner_role: str
    details: list[tuple[str, int]]


class RectificationOut(Schema):
    id: int
    institution_id: int
    report_id: int
    month: str
    figure_code: str
    warning: str
    owner_role: str
    due_on: dt.date
    overdue: bool
    source: str
    status: str
    closing_note: str
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_month(obj: Rectification) -> str:
        return f"{obj.month:%Y-%m}"

    @staticmethod
    def resolve_overdue(obj: Rectification) -> bool:
        from django.utils import timezone

        return obj.is_overdue(timezone.localdate())


class ReportOut(Schema):
    id: int
    institution_id: int
    institution_name: str
    month: str
    version: int
    trigger: str
    generated_at: dt.datetime
    off_target: int

    @staticmethod
    def resolve_institution_name(obj: MonthlyReport) -> str:
        return obj.institution.name

    @staticmethod
    def resolve_month(obj: MonthlyReport) -> str:
        return obj.period

    @staticmethod
    def resolve_off_target(obj: MonthlyReport) -> int:
        return len(obj.off_target)


class ReportDetailOut(Schema):
    id: int
    institution_id: int
    institution_name: str
    month: str
    version: int
    trigger: str
    generated_at: dt.datetime
    off_target: int
    figures: list[FigureOut]
    rectifications: list[RectificationOut]
    carried_over: list[RectificationOut]


def _figures(report: MonthlyReport) -> list[dict[str, Any]]:
    english = not (translation.get_language() or "zh-hans").startswith("zh")
    rows = describe.rows_of(report)
    out = []
    for stored, row in zip(report.figures, rows, strict=True):
        target = stored.get("target")
        out.append(
            {
                **{k: stored.get(k) for k in ("code", "unit", "numerator", "denominator", "count", "value")},
                "label": row.label,
                "status": stored["status"],
                "status_label": row.status_label,
                "owner_role": stored.get("owner_role", ""),
                "details": [(k, n) for k, n in stored.get("details", [])],
                "target": None
                if not target
                else {
                    "value": target["value"],
                    "comparison": target["comparison"],
                    "source": target["source_en"] if english else target["source"],
                    "set_by_institution": bool(target.get("policy")),
                },
            }
        )
    return out


def _detail(report: MonthlyReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "institution_id": report.institution_id,
        "institution_name": report.institution.name,
        "month": report.period,
        "version": report.version,
        "trigger": report.trigger,
        "generated_at": report.generated_at,
        "off_target": len(report.off_target),
        "figures": _figures(report),
        "rectifications": queries.rectifications_of(report),
        "carried_over": queries.carried_over(report),
    }


class ReportFilter(FilterIn):
    institution_id: int | None = Field(None, ge=1, le=2**53)
    month: str | None = Field(None, pattern=MONTH)


@router.get("/reports", response={200: list[ReportOut], **ERRORS}, summary="月度合规报告 / Monthly reports")
@paginate(Pagination)
def list_reports(request: HttpRequest, filters: Query[ReportFilter]) -> Any:
    return queries.reports(
        _actor(request),
        institution_id=filters.institution_id,
        month=_month(filters.month) if filters.month else None,
    )


@router.get("/reports/{report_id}", response={200: ReportDetailOut, **ERRORS})
def get_report(request: HttpRequest, report_id: int) -> Any:
    return _detail(queries.report(_actor(request), report_id))


class GenerateIn(In):
    institution_id: int = Id
    month: str = Field(..., pattern=MONTH)

    @field_validator("month")
    @classmethod
    def _real(cls, v: str) -> str:
        _month(v)
        return v


@router.post("/reports", response={201: ReportDetailOut, **ERRORS}, summary="生成报告(新版本)/ Generate")
def generate(request: HttpRequest, payload: GenerateIn) -> Any:
    report = actions.generate_report(_actor(request), payload.institution_id, _month(payload.month))
    return 201, _detail(report)


class RectificationCloseIn(In):
    note: str = Field(..., min_length=1, max_length=actions.NOTE_MAX)


@router.post("/rectifications/{rectification_id}/close", response={200: RectificationOut, **ERRORS})
def close_rectification(request: HttpRequest, rectification_id: int, payload: RectificationCloseIn) -> Any:
    return actions.close_rectification(_actor(request), rectification_id, note=payload.note)


@router.get("/reports/{report_id}/report.pdf", response={200: None, **ERRORS})
def report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    report = queries.report(_actor(request), report_id)
    return reports.attachment(reports.render_pdf(report), "application/pdf", reports.filename(report, "pdf"))


@router.get("/reports/{report_id}/report.xlsx", response={200: None, **ERRORS})
def report_xlsx(request: HttpRequest, report_id: int) -> HttpResponse:
    report = queries.report(_actor(request), report_id)
    return reports.attachment(reports.render_xlsx(report), reports.XLSX, reports.filename(report, "xlsx"))


class RollupCellOut(Schema):
    institution_id: int
    institution_name: str
    value: float | None
    numerator: int | None
    denominator: int | None
    status: str


class RollupFigureOut(Schema):
    code: str
    label: str
    unit: str
    total: str
    median: str
    off_target: int
    members: list[RollupCellOut]


class RollupFilter(FilterIn):
    month: str = Field(..., pattern=MONTH)


@router.get(
    "/rollup", response={200: list[RollupFigureOut], **ERRORS}, summary="协会汇总 / Association roll-up"
)
def rollup(request: HttpRequest, filters: Query[RollupFilter]) -> Any:
    actor = _actor(request)
    require(actor, "compliance.rollup")
    _members, figures = queries.rollup(actor, _month(filters.month))
    return [
        {
            "code": f.code,
            "label": f.label,
            "unit": f.unit,
            "total": f.total,
            "median": f.median,
            "off_target": f.off_target,
            "members": [
                {
                    "institution_id": c.institution.pk,
                    "institution_name": c.institution.name,
                    "value": c.row["value"],
                    "numerator": c.row["numerator"],
                    "denominator": c.row["denominator"],
                    "status": c.row["status"],
                }
                for c in f.cells
            ],
        }
        for f in figures
    ]


__all__ = ["policy", "router"]
