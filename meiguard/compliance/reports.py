"""A monthly report as PDF (WeasyPrint, Noto CJK fonts) and Excel (openpyxl: 指标, 整改事项), from the same rows
as the page (``describe.build``), rendered in the request (a report has a handful of rows)."""

from __future__ import annotations

import io
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.core.excel import xlsx_row
from meiguard.reviews.reports import XLSX, attachment

from . import describe
from .models import MonthlyReport

__all__ = ["XLSX", "attachment", "filename", "render_pdf", "render_xlsx"]


def filename(report: MonthlyReport, ext: str) -> str:
    return f"compliance-{report.institution_id}-{report.period}-v{report.version}.{ext}"


def render_pdf(report: MonthlyReport) -> bytes:
    from weasyprint import HTML

    view = describe.build(report, with_charts=False)
    html = render_to_string(
        "compliance/report_pdf.html", {"v": view, "r": report, "now": timezone.localtime()}
    )
    return bytes(HTML(string=html).write_pdf())


def _d(value: Any) -> str:
    if value is None or value == "":
        return ""
    if hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def render_xlsx(report: MonthlyReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    view = describe.build(report, with_charts=False)
    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "指标"
    ws.append(
        [
            _("指标"),
            _("数值"),
            _("分子 / 分母"),
            _("目标"),
            _("状态"),
            _("依据"),
            _("责任部门/角色"),
            _("说明"),
            _("明细"),
        ]
    )
    for row in view.rows:
        ws.append(
            xlsx_row(
                [
                    row.label,
                    row.value,
                    row.fraction,
                    row.target,
                    row.status_label,
                    row.source,
                    row.owner if row.target else "",
                    row.explain,
                    ";".join(f"{label} ×{n}" for _code, label, n in row.details),
                ]
            )
        )
    ws2 = wb.create_sheet("整改事项")
    ws2.append(
        [_("报告月份"), _("偏离预警"), _("责任部门/角色"), _("整改期限"), _("状态"), _("依据"), _("整改说明")]
    )
    for item in [*view.carried, *view.rectifications]:
        ws2.append(
            xlsx_row(
                [
                    f"{item.month:%Y-%m}",
                    item.warning,
                    describe.role_label(item.owner_role),
                    _d(item.due_on),
                    (_("已逾期") if item.is_overdue(view.today) else item.get_status_display()),
                    item.source,
                    item.closing_note,
                ]
            )
        )
    ws3 = wb.create_sheet("概要")
    for label, value in (
        (_("机构"), report.institution.name),
        (_("报告月份"), report.period),
        (_("版本"), report.version),
        (_("生成方式"), report.get_trigger_display()),
        (_("生成时间"), _d(report.generated_at)),
    ):
        ws3.append(xlsx_row([label, value]))
    for sheet, widths in (
        (ws, (24, 10, 14, 10, 10, 50, 14, 50, 40)),
        (ws2, (10, 50, 14, 12, 10, 50, 40)),
        (ws3, (14, 40)),
    ):
        for header in sheet[1]:
            header.font = bold
        for i, w in enumerate(widths):
            sheet.column_dimensions[chr(65 + i)].width = w
        for r in sheet.iter_rows():
            for cell in r:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
