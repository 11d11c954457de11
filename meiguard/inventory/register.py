"""The high-risk drug register (专用账册) of one product at one institution over a period: opening balance, every
movement in order with the running balance (receipts with supplier and delivery note, issues with both people),
usage recorded in cases, and the daily reconciliation results. Shown as a page, a PDF (WeasyPrint, Noto CJK)
and an Excel workbook. Kept at least 5 years after the last lot's expiry (PR-09; ``highrisk.register_keep_until``).

A fixed number of queries whatever the period: the product, the opening balance, the movements (with their
receipt lines and two-person requests joined), the usages, the reconciliations."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Max, Sum
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import FieldErrors
from meiguard.core.excel import MAX_EXPORT_ROWS, xlsx_row
from meiguard.registry import queries as rq
from meiguard.registry.models import Institution, Lot, Product

from . import highrisk
from .models import IssueRequest, Reconciliation, StockMovement

MAX_PERIOD_DAYS = 366


@dataclass
class Entry:
    at: dt.datetime
    kind: str
    lot_no: str
    location: str
    quantity: Decimal
    balance: Decimal
    by: str
    confirmed_by: str = ""
    detail: str = ""


@dataclass
class Register:
    institution: Institution
    product: Product
    start: dt.date
    end: dt.date
    opening: Decimal
    closing: Decimal
    entries: list[Entry] = field(default_factory=list)
    usages: list[dict[str, Any]] = field(default_factory=list)
    reconciliations: list[Reconciliation] = field(default_factory=list)
    keep_until: dt.date | None = None
    source: str = ""
    generated_at: dt.datetime | None = None


def _who(user: Any) -> str:
    return str(user) if user is not None else ""


def period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period asked for (default: this month so far); at most a year, start ≤ end."""
    today = timezone.localdate()
    start = start or today.replace(day=1)
    end = end or today
    if end < start:
        raise FieldErrors({"end": [_("结束日期不能早于开始日期")]})
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise FieldErrors({"end": [_("期间不能超过 %(n)s 天") % {"n": MAX_PERIOD_DAYS}]})
    return start, end


def build(actor: Actor, *, institution_id: int, product_id: int, start: dt.date, end: dt.date) -> Register:
    inst = rq.visible(Institution, actor, institution_id, field="institution_id")
    product = Product.objects.visible_to(actor).filter(pk=product_id).first()
    if product is None:
        raise NotFoundField("product_id")
    if not highrisk.is_high_risk(product):
        raise FieldErrors({"product_id": [_("该产品不是高风险药品,没有专用账册")]})
    begin = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    until = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    moves = StockMovement.objects.visible_to(actor).filter(institution_id=inst.pk, lot__product_id=product.pk)
    opening = moves.filter(at__lt=begin).aggregate(s=Sum("quantity"))["s"] or Decimal(0)
    rows = list(
        moves.filter(at__gte=begin, at__lt=until)
        .select_related("lot", "location", "by", "receipt_line__receipt__supplier")
        .order_by("at", "pk")[:MAX_EXPORT_ROWS]
    )
    issues = {
        r.movement_id: r
        for r in IssueRequest.objects.filter(movement_id__in=[m.pk for m in rows]).select_related(
            "requested_by", "confirmed_by", "case"
        )
    }
    balance = opening
    entries = []
    for m in rows:
        balance += m.quantity
        issue = issues.get(m.pk)
        detail = m.reason
        if m.receipt_line is not None:
            receipt = m.receipt_line.receipt
            detail = _("%(supplier)s 随货同行单 %(note)s") % {
                "supplier": receipt.supplier.name,
                "note": receipt.delivery_note_no,
            }
        elif issue is not None:
            detail = issue.purpose + (f" · {issue.case.code}" if issue.case else "")
        entries.append(
            Entry(
                at=m.at,
                kind=m.get_kind_display(),
                lot_no=m.lot.lot_no,
                location=m.location.name,
                quantity=m.quantity,
                balance=balance,
                by=_who(issue.requested_by if issue else m.by),
                confirmed_by=_who(issue.confirmed_by) if issue else "",
                detail=detail,
            )
        )
    usage = apps.get_model("clinical", "Usage")
    usages = list(
        usage.objects.visible_to(actor)
        .filter(
            institution_id=inst.pk, lot__product_id=product.pk, created_at__gte=begin, created_at__lt=until
        )
        .order_by("created_at", "pk")
        .values(
            "created_at",
            "case__code",
            "lot__lot_no",
            "dose_value",
            "dose_unit",
            "recorded_by__display_name",
            "recorded_by__username",
        )[:MAX_EXPORT_ROWS]
    )
    recs = list(
        Reconciliation.objects.visible_to(actor)
        .filter(institution_id=inst.pk, product_id=product.pk, day__gte=start, day__lte=end)
        .order_by("day")
    )
    last_expiry = Lot.objects.filter(institution_id=inst.pk, product_id=product.pk).aggregate(
        e=Max("expiry_date")
    )["e"]
    return Register(
        institution=inst,
        product=product,
        start=start,
        end=end,
        opening=opening,
        closing=balance,
        entries=entries,
        usages=usages,
        reconciliations=recs,
        keep_until=highrisk.register_keep_until(last_expiry) if last_expiry else None,
        source=highrisk.source(*highrisk.REGISTER_SOURCES),
        generated_at=timezone.localtime(),
    )


def filename(reg: Register, ext: str) -> str:
    return f"register-{reg.institution.pk}-{reg.product.pk}-{reg.start:%Y%m%d}-{reg.end:%Y%m%d}.{ext}"


def render_pdf(reg: Register) -> bytes:
    from weasyprint import HTML

    html = render_to_string("inventory/highrisk_register_pdf.html", {"r": reg})
    return bytes(HTML(string=html).write_pdf())


def _d(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _n(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def render_xlsx(reg: Register) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = _("专用账册")
    for row in (
        (_("机构"), reg.institution.name),
        (_("产品"), reg.product.generic_name),
        (_("期间"), f"{reg.start.isoformat()} – {reg.end.isoformat()}"),
        (_("期初结存"), _n(reg.opening)),
        (_("期末结存"), _n(reg.closing)),
        (_("保存至"), _d(reg.keep_until)),
        (_("依据"), reg.source),
    ):
        ws.append(xlsx_row(row))
    ws.append([])
    header = [
        _("时间"),
        _("类型"),
        _("批号"),
        _("库位"),
        _("数量(入正出负)"),
        _("结存"),
        _("经办人"),
        _("复核人"),
        _("说明"),
    ]
    ws.append(header)
    for cell in ws[ws.max_row]:
        cell.font = bold
    for e in reg.entries:
        ws.append(
            xlsx_row(
                [
                    _d(e.at),
                    e.kind,
                    e.lot_no,
                    e.location,
                    _n(e.quantity),
                    _n(e.balance),
                    e.by,
                    e.confirmed_by,
                    e.detail,
                ]
            )
        )
    us = wb.create_sheet(_("病例使用"))
    us.append([_("时间"), _("病例条码"), _("批号"), _("剂量"), _("单位"), _("记录人")])
    for u in reg.usages:
        us.append(
            xlsx_row(
                [
                    _d(u["created_at"]),
                    u["case__code"],
                    u["lot__lot_no"],
                    _n(u["dose_value"]),
                    u["dose_unit"],
                    u["recorded_by__display_name"] or u["recorded_by__username"] or "",
                ]
            )
        )
    rs = wb.create_sheet(_("每日对账"))
    rs.append([_("日期"), _("病例使用量"), _("出库量"), _("日终结存"), _("结果")])
    for r in reg.reconciliations:
        rs.append(
            xlsx_row(
                [
                    r.day.isoformat(),
                    _n(r.used),
                    _n(r.issued),
                    _n(r.on_hand),
                    _("相符") if r.matched else _("不符"),
                ]
            )
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
