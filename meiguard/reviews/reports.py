"""Campaign reports: PDF (WeasyPrint, Noto CJK fonts) and Excel (openpyxl: 概要, 检查清单, 问题与整改).

Both are built from ``report_data`` (the same rows the page shows), read through the actor's access, and
rendered synchronously: a campaign has tens to a few hundred rows, a second or so of work.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.core.access import Actor
from meiguard.core.excel import xlsx_row

from . import queries
from .models import Campaign, ChecklistItem, Finding


@dataclass(frozen=True)
class ReportData:
    campaign: Campaign
    counts: dict[str, int]
    groups: list[tuple[str, Any, list[ChecklistItem]]]
    findings: list[Finding]
    generated_at: Any


def report_data(actor: Actor, campaign_id: int) -> ReportData:
    campaign = queries.campaign(actor, campaign_id)
    return ReportData(
        campaign=campaign,
        counts=queries.counts(campaign),
        groups=queries.items_by_category(campaign),
        findings=list(queries.findings(campaign)),
        generated_at=timezone.localtime(),
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return response


def filename(campaign: Campaign, ext: str) -> str:
    return f"review-{campaign.institution_id}-{campaign.period}-{campaign.kind}.{ext}"


def render_pdf(actor: Actor, campaign_id: int) -> bytes:
    from weasyprint import HTML

    data = report_data(actor, campaign_id)
    html = render_to_string("reviews/report_pdf.html", {"r": data, "c": data.campaign})
    return bytes(HTML(string=html).write_pdf())


def _autosize(ws: Any, widths: dict[str, int]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[col].width = width


def _d(value: Any) -> str:
    if value is None or value == "":
        return ""
    if hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def render_xlsx(actor: Actor, campaign_id: int) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    data = report_data(actor, campaign_id)
    c = data.campaign
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    wb = Workbook()

    ws = wb.active
    ws.title = "概要"
    summary_rows: list[tuple[str, Any]] = [
        (_("机构"), c.institution.name),
        (_("审查期间"), f"{c.period}({c.starts_on.isoformat()} – {c.ends_on.isoformat()})"),
        (_("审查类型"), c.get_kind_display()),
        (_("状态"), c.get_status_display()),
        (_("发起人"), str(c.created_by or "")),
        (_("清单生成时间"), _d(c.built_at)),
        (_("检查项"), data.counts["items"]),
        (_("合格"), data.counts["items_ok"]),
        (_("发现问题"), data.counts["items_finding"]),
        (_("待检查"), data.counts["items_open"]),
        (_("问题总数"), data.counts["findings"]),
        (_("未关闭问题"), data.counts["findings_open"]),
        (_("审查结论"), c.summary),
        (_("结束说明"), c.close_note),
        (_("结束时间"), _d(c.closed_at)),
        (_("报告生成时间"), _d(data.generated_at)),
    ]
    for label, value in summary_rows:
        ws.append(xlsx_row([label, value]))
    for row in ws.iter_rows(min_col=1, max_col=1):
        row[0].font = bold
    _autosize(ws, {"A": 18, "B": 60})

    ws = wb.create_sheet("检查清单")
    ws.append(
        [
            _("类别"),
            _("检查项"),
            _("说明"),
            _("执业人员"),
            _("授权"),
            _("依据条数"),
            _("依据来源"),
            _("机构内部管理实践"),
            _("状态"),
            _("检查说明"),
        ]
    )
    for _category, label, items in data.groups:
        for item in items:
            ws.append(
                xlsx_row(
                    [
                        str(label),
                        item.title,
                        item.detail,
                        item.practitioner.name if item.practitioner else "",
                        f"#{item.authorization_id}" if item.authorization_id else "",
                        item.evidence_count,
                        item.source,
                        _("是") if item.institution_practice else _("否"),
                        item.get_status_display(),
                        item.note,
                    ]
                )
            )
    _autosize(ws, {"A": 22, "B": 48, "C": 60, "D": 12, "E": 8, "F": 8, "G": 36, "H": 10, "I": 10, "J": 30})

    ws = wb.create_sheet("问题与整改")
    ws.append(
        [
            "#",
            _("严重程度"),
            _("问题描述"),
            _("执业人员"),
            _("授权"),
            _("处理措施"),
            _("整改期限"),
            _("状态"),
            _("关闭说明"),
            _("记录时间"),
        ]
    )
    for f in data.findings:
        ws.append(
            xlsx_row(
                [
                    f.pk,
                    f.get_severity_display(),
                    f.description,
                    f.practitioner.name if f.practitioner else "",
                    f"#{f.authorization_id}" if f.authorization_id else "",
                    f.get_action_display() if f.action else "",
                    _d(f.due_date),
                    f.get_status_display(),
                    f.closing_note,
                    _d(f.created_at),
                ]
            )
        )
    _autosize(ws, {"A": 6, "B": 10, "C": 60, "D": 12, "E": 8, "F": 10, "G": 12, "H": 10, "I": 40, "J": 17})

    for sheet in wb.worksheets:
        for header in sheet[1]:
            header.font = bold
        for row in sheet.iter_rows(min_row=1):
            for cell in row:
                cell.alignment = wrap
        sheet.freeze_panes = "A2" if sheet.title != "概要" else None
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
