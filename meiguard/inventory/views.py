"""Inventory pages: stock on hand by location (near-expiry marks), receipts (scan-first), a receipt's lines with
their arrival checks and the accept/reject decision, a lot's movement history, the alerts.

Thin views: parse, call one query or action, render. Foreign ids are 404s; an action's error is shown on the
page with its status (422 bad input, 403, 409), never a 500 and never a partial write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meiguard.core.apierrors import NotFoundField, not_found_message
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param
from meiguard.registry.choices import DoseUnit
from meiguard.registry.models import Institution, Lot, Product, Supplier
from meiguard.rules.sources import cites, source_text

from . import actions, permissions, queries
from .choices import Check
from .models import ReceiptLine

LABELS: dict[str, Any] = {
    "supplier_id": gettext_lazy("供应商"),
    "delivery_note_no": gettext_lazy("随货同行单号"),
    "product_id": gettext_lazy("产品"),
    "lot_no": gettext_lazy("批号"),
    "expiry_date": gettext_lazy("失效日期"),
    "production_date": gettext_lazy("生产日期"),
    "quantity": gettext_lazy("数量"),
    "unit": gettext_lazy("单位"),
    "location_id": gettext_lazy("库位"),
    "trace_codes": gettext_lazy("药品追溯码"),
    "code": gettext_lazy("UDI"),
    "manual_reason": gettext_lazy("手工录入原因"),
    "temperature_c": gettext_lazy("到货温度"),
    "packaging_intact": gettext_lazy("包装完好"),
    "reason": gettext_lazy("原因"),
    "lines": gettext_lazy("明细"),
}


# What the pages name as their source (the sources register, readable).
ALERT_SOURCES = ("trace-code-notice-2025", "drug-trace-code-standard")
RECEIPT_SOURCES = ("device-use-rules", "device-regulation", "drug-administration-law")


def _source(*ids: str) -> str:
    return source_text(cites(*ids), translation.get_language())


def _institutions(request: HttpRequest) -> list[Institution]:
    found = permissions.institutions(_actor(request))
    if not found:
        raise PermissionDenied(_("只有机构管理员、采购、授权专员和监督机构审计员可以查看库存"))
    return found


def _chosen(request: HttpRequest, found: list[Institution]) -> Institution:
    wanted = int_param(request, "institution")
    return next((i for i in found if i.pk == wanted), found[0])


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, FieldErrors):
        out = []
        for name, msgs in exc.errors.items():
            label = LABELS.get(name.rsplit(".", 1)[-1], "")
            out += [f"{label}:{m}" if label else str(m) for m in msgs]
        return out
    if isinstance(exc, NotFoundField):
        return [not_found_message(exc.field)]
    return [str(getattr(exc, "message", exc))]


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 404 if isinstance(exc, NotFoundField) else 400))


@login_required
def stock(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    location_id = int_param(request, "location")
    near = request.GET.get("near") == "1"
    rows = queries.stock(actor, inst.pk, location_id=location_id, near_expiry_only=near)
    ctx = {
        "institutions": found,
        "institution": inst,
        "rows": rows,
        "locations": list(queries.locations(actor, inst.pk)),
        "location_id": location_id,
        "near": near,
        "can_keep": permissions.can_keep(actor, inst.organization_id),
    }
    return render(request, "inventory/stock.html", ctx)


@login_required
def receipts(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    ctx = {
        "institutions": found,
        "institution": inst,
        "receipts": list(queries.receipts(actor, inst.pk)[:100]),
        "can_keep": permissions.can_keep(actor, inst.organization_id),
    }
    return render(request, "inventory/receipts.html", ctx)


def _line_data(post: Any) -> dict[str, Any]:
    """A line from the form: the scan field takes GS1 UDIs or 20-digit trace codes (one scan per line)."""
    scans = [s.strip() for s in (post.get("scans") or "").splitlines() if s.strip()]
    codes = [s for s in scans if actions.is_trace_code(s)]
    udis = [s for s in scans if not actions.is_trace_code(s)]
    data: dict[str, Any] = {
        "trace_codes": codes,
        "code": udis[0] if udis else "",
        "lot_no": (post.get("lot_no") or "").strip(),
        "manual_reason": (post.get("manual_reason") or "").strip(),
        "unit": post.get("unit") or "",
        "packaging_intact": {"yes": True, "no": False}.get(post.get("packaging_intact") or ""),
    }
    for name in ("product_id", "location_id"):
        raw = (post.get(name) or "").strip()
        data[name] = int(raw) if raw.isdigit() and len(raw) < 12 else None
    for name in ("expiry_date", "production_date"):
        raw = (post.get(name) or "").strip()
        try:
            data[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            data[name] = None
    quantity = (post.get("quantity") or "").strip()
    data["quantity"] = quantity or (len(codes) if codes else None)
    temperature = (post.get("temperature_c") or "").strip()
    data["temperature_c"] = temperature or None
    if len(udis) > 1:
        data["code"] = " ".join(udis)[:128]
    return data


def _form_context(actor: Any, inst: Institution) -> dict[str, Any]:
    return {
        "suppliers": list(Supplier.objects.visible_to(actor).filter(is_active=True).order_by("name")[:500]),
        "products": list(Product.objects.visible_to(actor).order_by("generic_name", "brand_name")[:1000]),
        "locations": [loc for loc in queries.locations(actor, inst.pk) if loc.is_active],
        "units": DoseUnit.choices,
    }


@login_required
def receipt_new(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    if not permissions.can_keep(actor, inst.organization_id):
        raise PermissionDenied(_("只有机构管理员、采购和授权专员可以登记验收入库"))
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        supplier = (request.POST.get("supplier_id") or "").strip()
        try:
            receipt = actions.create_receipt(
                actor,
                institution_id=inst.pk,
                supplier_id=int(supplier) if supplier.isdigit() and len(supplier) < 12 else 0,
                delivery_note_no=request.POST.get("delivery_note_no", ""),
                note=request.POST.get("note", ""),
                lines=[_line_data(request.POST)],
            )
        except (ActionError, NotFoundField) as exc:
            errors, status = _messages(exc), _status(exc)
        else:
            return redirect(reverse("inventory:receipt", args=[receipt.pk]))
    ctx = {
        "institutions": found,
        "institution": inst,
        "errors": errors,
        "v": request.POST,
        **_form_context(actor, inst),
    }
    return render(request, "inventory/receipt_new.html", ctx, status=status)


def _detail(
    request: HttpRequest, pk: int, *, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    actor = _actor(request)
    receipt = queries.receipt(actor, pk)
    inst = receipt.institution
    lines = queries.receipt_lines(actor, receipt.pk)
    labels = dict(Check.choices)
    for line in lines:
        line.check_rows = [(labels.get(c["check"], c["check"]), c["passed"]) for c in line.checks]  # type: ignore[attr-defined]
    ctx = {
        "receipt": receipt,
        "institution": inst,
        "lines": lines,
        "errors": errors or [],
        "can_keep": permissions.can_keep(actor, inst.organization_id),
        "v": request.POST if request.method == "POST" else {},
        "source": _source(*RECEIPT_SOURCES),
        **_form_context(actor, inst),
    }
    return render(request, "inventory/receipt_detail.html", ctx, status=status)


@login_required
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


@login_required
@require_POST
def line_add(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.add_line(_actor(request), pk, _line_data(request.POST))
    except (ActionError, NotFoundField) as exc:
        if isinstance(exc, NotFoundField) and exc.field in ("", None):
            raise
        return _detail(request, pk, errors=_messages(exc), status=_status(exc))
    return redirect(reverse("inventory:receipt", args=[pk]))


@login_required
@require_POST
def line_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    line = ReceiptLine.objects.visible_to(actor).filter(pk=pk).values_list("receipt_id", flat=True).first()
    if line is None:
        raise NotFoundField("line")
    try:
        if request.POST.get("decision") == "accept":
            actions.accept_line(actor, pk)
        else:
            actions.reject_line(actor, pk, reason=request.POST.get("reason", ""))
    except ActionError as exc:
        return _detail(request, line, errors=_messages(exc), status=_status(exc))
    return redirect(reverse("inventory:receipt", args=[line]) + f"#line-{pk}")


@login_required
def lot_movements(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    lot = queries.lot(actor, pk)
    lot = Lot.objects.select_related("product", "institution").get(pk=lot.pk)
    moves = list(queries.movements(actor, lot_id=lot.pk)[:500])
    ctx = {"lot": lot, "movements": moves, "institution": lot.institution, "today": timezone.localdate()}
    return render(request, "inventory/lot.html", ctx)


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    ctx = {
        "institutions": found,
        "institution": inst,
        "alerts": list(queries.alerts(actor, inst.pk)[:200]),
        "source": _source(*ALERT_SOURCES),
    }
    return render(request, "inventory/alerts.html", ctx)
