"""The recall report for the supplier and the regulator (PDF, WeasyPrint with the Noto CJK fonts; Excel).

Per notice: the product, lots, level, source and clock; per institution the actor may see: lots, stock
quarantined / returned / destroyed / still in quarantine, the number of clients affected, completion. The
clients' names and phone numbers appear only in the institution's own export (a reader with the compliance
officer or 医务科 role there); the supplier's and the regulator's copy carries counts.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meiguard.core.access import Actor
from meiguard.core.excel import xlsx_row
from meiguard.rules.sources import cites, source_text

from . import recall
from .choices import RECALL_SOURCES, ClockState
from .models import RecallLot, RecallNotice


@dataclass(frozen=True)
class RecallReport:
    notice: RecallNotice
    rows: list[RecallLot]
    parts: list[recall.InstitutionPart]
    contacts: list[recall.AffectedClient]
    state: str
    state_label: str
    source: str
    generated_at: dt.datetime


def report_data(actor: Actor, notice_id: int, today: dt.date | None = None) -> RecallReport:
    today = today or timezone.localdate()
    notice = recall.notice(actor, notice_id)
    rows = recall.recall_lots(actor, notice)
    parts = recall.parts(notice, rows, today)
    state = recall.overall_state(notice, parts, today)
    return RecallReport(
        notice=notice,
        rows=rows,
        parts=parts,
        contacts=recall.affected_clients(actor, rows),
        state=state,
        state_label=str(ClockState(state).label),
        source=source_text(cites(*RECALL_SOURCES), translation.get_language()),
        generated_at=timezone.localtime(),
    )


def filename(notice: RecallNotice, ext: str) -> str:
    return f"recall-{notice.pk}.{ext}"


def render_pdf(actor: Actor, notice_id: int) -> bytes:
    """The supplier's and the regulator's copy: counts, never client contacts."""
    from weasyprint import HTML

    data = report_data(actor, notice_id)
    html = render_to_string("inventory/recall_report_pdf.html", {"r": data, "n": data.notice})
    return bytes(HTML(string=html).write_pdf())


def _d(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _n(value: Any) -> Any:
    return int(value) if value == int(value) else float(value)


def render_xlsx(actor: Actor, notice_id: int) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    data = report_data(actor, notice_id)
    n = data.notice
    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = _("召回概要")
    product = n.product.brand_name or n.product.generic_name
    for label, value in (
        (_("产品"), f"{product}({n.product.registration_no})"),
        (_("召回批号"), _("该产品全部批次") if n.all_lots else ", ".join(n.lot_nos)),
        (_("召回级别"), n.get_level_display()),
        (_("召回来源"), n.get_source_display()),
        (_("召回通知编号"), n.reference_no),
        (_("召回原因"), n.reason),
        (_("召回决定日期"), _d(n.issued_on)),
        (_("收到通知时间"), _d(n.received_at)),
        (_("完成期限"), _d(n.due_on)),
        (_("处理状态"), data.state_label),
        (_("依据"), data.source),
        (_("报告生成时间"), _d(data.generated_at)),
    ):
        ws.append(xlsx_row([label, value]))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 70

    ws = wb.create_sheet(_("各机构处理情况"))
    ws.append(
        [
            _("机构"),
            _("批号"),
            _("隔离数量"),
            _("退回供应商数量"),
            _("销毁数量"),
            _("受影响求美者(人)"),
            _("仍在隔离区"),
            _("处理状态"),
            _("处理完成时间"),
        ]
    )
    for part in data.parts:
        ws.append(
            xlsx_row(
                [
                    part.institution.name,
                    part.lot_nos,
                    _n(part.quarantined),
                    _n(part.returned),
                    _n(part.destroyed),
                    part.clients,
                    _n(part.in_quarantine),
                    str(ClockState(part.state).label),
                    _d(part.completed_at),
                ]
            )
        )
    if data.contacts:  # the institution's own export only
        ws = wb.create_sheet(_("受影响求美者"))
        ws.append([_("机构"), _("姓名"), _("手机号"), _("批号"), _("病例条码"), _("使用时间")])
        names = {p.institution.pk: p.institution.name for p in data.parts}
        for c in data.contacts:
            ws.append(
                xlsx_row(
                    [names.get(c.institution_id, ""), c.name, c.phone, c.lot_no, c.case_code, _d(c.used_at)]
                )
            )
    for sheet in wb.worksheets[1:]:
        for header in sheet[1]:
            header.font = bold
        sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
