"""The regulatory report form of an incident, pre-filled from the case (procedure, dates, operator), the product
(name, NMPA registration number, maker), the lot (number, expiry), the UDI / trace code used, and the event;
shown on the incident page and exported as PDF (WeasyPrint with the Noto CJK fonts) and Excel (openpyxl).

One list of sections feeds the page, the PDF and the workbook, so the three always say the same.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from meiguard.clinical.models import OperationRecord, Usage
from meiguard.core.access import Actor
from meiguard.core.excel import xlsx_row

from . import incident_policy as ip
from . import incident_queries
from .choices import ReportState
from .incidents import within_label
from .models import Incident

Row = tuple[str, str]


@dataclass(frozen=True)
class ReportForm:
    incident: Incident
    title: str
    sections: list[tuple[str, list[Row]]]
    generated_at: dt.datetime


def _d(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def report_title(incident: Incident) -> str:
    clock = ip.CLOCKS.get(incident.report_clock)
    if clock is None:
        return _("医疗安全(不良)事件内部报告")
    return {
        "device_ae": _("可疑医疗器械不良事件报告表"),
        "drug_adr": _("药品不良反应/事件报告表"),
        "quality_event": _("医疗质量安全事件报告"),
    }.get(clock.kind, _("不良事件报告"))


def report_form(actor: Actor, incident_id: int, at: dt.datetime | None = None) -> ReportForm:
    at = at or timezone.now()
    i = incident_queries.incident(actor, incident_id)
    clock = ip.CLOCKS.get(i.report_clock)
    lang = translation.get_language()
    state = i.report_state(at)
    event: list[Row] = [
        (_("报告单位"), i.institution.name),
        (_("事件名称"), i.title),
        (_("类别"), str(i.get_kind_display())),
        (_("内部分级"), str(i.get_grade_display())),
        (_("严重程度"), str(i.get_severity_display())),
        (_("发现时间"), _d(i.discovered_at)),
        (_("事件经过"), i.description),
        (_("报告人"), i.reporter_name),
        (_("登记时间"), _d(i.reported_at)),
        (_("分级依据"), ip.grading_source(lang)),
    ]
    if i.is_cluster:
        event.append((_("群体不良事件"), _("是")))
    sections: list[tuple[str, list[Row]]] = [(_("事件"), event)]
    if i.case is not None:
        record = OperationRecord.objects.filter(case=i.case).select_related("operator").first()
        sections.append(
            (
                _("病例"),
                [
                    (_("病例条码"), i.case.code),
                    (_("项目名称"), i.case.procedure_name),
                    (_("求美者"), i.case.client.name),
                    (_("主诊/手术医师"), i.case.operator.name),
                    (_("治疗开始"), _d(record.opened_at if record else None)),
                    (_("治疗结束"), _d(record.closed_at if record else None)),
                ],
            )
        )
    product = i.product
    if product is not None:
        rows: list[Row] = [
            (_("产品名称"), product.brand_name or product.generic_name),
            (_("通用名称"), product.generic_name),
            (_("注册证/备案/批准文号"), product.registration_no),
            (_("注册人/上市许可持有人"), product.registrant),
            (_("类别"), str(product.get_kind_display())),
        ]
        if product.udi_di:
            rows.append((_("UDI-DI"), product.udi_di))
        if i.lot is not None:
            rows += [
                (_("批号"), i.lot.lot_no),
                (_("生产日期"), _d(i.lot.production_date)),
                (_("失效日期"), _d(i.lot.expiry_date)),
            ]
        if i.device is not None:
            rows += [(_("设备序列号"), i.device.serial_no or "—"), (_("UDI"), i.device.udi or "—")]
        if i.case is not None:
            codes = sorted(
                {
                    c
                    for c in Usage.objects.filter(case=i.case)
                    .filter(**({"lot": i.lot} if i.lot is not None else {}))
                    .values_list("scanned_code", flat=True)
                    if c
                }
            )
            if codes:
                rows.append((_("使用时扫描的追溯码/UDI"), "、".join(codes)))
        sections.append((_("产品"), rows))
    if i.is_cluster:
        members = [f"{m.title}({_d(m.discovered_at)})" for m in i.members.all()]
        members += [
            f"{r.case.code} {r.get_grade_display()}({_d(r.reported_at)})" for r in i.cluster_reactions.all()
        ]
        sections.append((_("群体事件成员"), [(str(n), m) for n, m in enumerate(members, start=1)]))
    regulatory: list[Row]
    if clock is None:
        regulatory = [(_("向监管部门上报"), _("无须上报,本机构内部处理"))]
    else:
        regulatory = [
            (_("上报时限"), within_label(clock)),
            (_("上报期限"), _d(i.report_due_at)),
            (_("上报状态"), str(ReportState(state).label)),
            (_("依据"), clock.source(lang)),
            (_("上报时间"), _d(i.report_submitted_at)),
            (_("上报途径"), str(i.get_report_channel_display()) if i.report_channel else "—"),
            (_("报告编号"), i.report_reference or "—"),
            (_("上报人"), str(i.report_submitted_by) if i.report_submitted_by else "—"),
        ]
    sections.append((_("向监管部门报告"), regulatory))
    return ReportForm(i, report_title(i), sections, timezone.localtime(at))


def filename(incident: Incident, ext: str) -> str:
    return f"incident-{incident.pk}.{ext}"


def render_pdf(actor: Actor, incident_id: int) -> bytes:
    from weasyprint import HTML

    form = report_form(actor, incident_id)
    html = render_to_string("aftercare/incident_report_pdf.html", {"form": form, "i": form.incident})
    return bytes(HTML(string=html).write_pdf())


def render_xlsx(actor: Actor, incident_id: int) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    form = report_form(actor, incident_id)
    wb = Workbook()
    ws = wb.active
    ws.title = _("报告表")
    ws.append(xlsx_row([form.title]))
    ws["A1"].font = Font(bold=True, size=14)
    for heading, rows in form.sections:
        ws.append([])
        ws.append(xlsx_row([heading]))
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
        for label, value in rows:
            ws.append(xlsx_row([label, value]))
    ws.append([])
    ws.append(xlsx_row([_("报告生成时间"), _d(form.generated_at)]))
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 80
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
