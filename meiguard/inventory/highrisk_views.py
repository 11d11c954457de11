"""High-risk drug pages: the cabinet (two-person issue requests, confirm/cancel, the day's reconciliation) and the
register (专用账册) per product and period, with its PDF and Excel. Keepers (admin, 采购, 授权专员) act;
auditors of an overseeing body read. Thin views: an action's error is shown with its status, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.core.params import date_param, int_param
from meiguard.registry.models import Product

from . import highrisk, permissions, queries, register
from .choices import HIGH_RISK_DRUG_CATEGORIES, IssueStatus, LocationKind
from .models import IssueRequest, Reconciliation
from .views import _chosen, _institutions, _messages, _status

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return response


def _products(actor: Any) -> list[Product]:
    return list(
        Product.objects.visible_to(actor)
        .filter(category__in=HIGH_RISK_DRUG_CATEGORIES)
        .order_by("generic_name", "pk")
    )


def _cabinet(request: HttpRequest, *, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    day = date_param(request, "day") or timezone.localdate()
    stock = [
        r
        for r in queries.stock(actor, inst.pk)
        if r.location.kind == LocationKind.HIGH_RISK and highrisk.is_high_risk(r.lot.product)
    ]
    issues = list(
        IssueRequest.objects.visible_to(actor)
        .filter(institution_id=inst.pk)
        .select_related("lot__product", "location", "requested_by", "confirmed_by", "cancelled_by", "case")[
            :50
        ]
    )
    recs = list(
        Reconciliation.objects.visible_to(actor)
        .filter(institution_id=inst.pk, day=day)
        .select_related("product")
    )
    ctx = {
        "institutions": found,
        "institution": inst,
        "day": day,
        "stock": stock,
        "issues": issues,
        "reconciliations": recs,
        "products": _products(actor),
        "can_keep": permissions.can_keep(actor, inst.organization_id),
        "me": actor.user_id,
        "requested": IssueStatus.REQUESTED,
        "errors": errors or [],
        "source": highrisk.source(*highrisk.REGISTER_SOURCES),
    }
    return render(request, "inventory/highrisk.html", ctx, status=status)


@login_required
def cabinet(request: HttpRequest) -> HttpResponse:
    return _cabinet(request)


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("inventory:highrisk") + f"?institution={request.POST.get('institution', '')}")


@login_required
@require_POST
def issue_request(request: HttpRequest) -> HttpResponse:
    lot_id, _sep, location_id = request.POST.get("pick", "").partition("-")
    try:
        highrisk.request_issue(
            _actor(request),
            lot_id=_int(lot_id),
            location_id=_int(location_id),
            quantity=request.POST.get("quantity", ""),
            purpose=request.POST.get("purpose", ""),
        )
    except (ActionError, NotFoundField) as exc:
        return _cabinet(request, errors=_messages(exc), status=_status(exc))
    return _back(request)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def int_param_post(request: HttpRequest, name: str) -> int:
    return _int(request.POST.get(name, "0"))


@login_required
@require_POST
def issue_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        if request.POST.get("decision") == "confirm":
            highrisk.confirm_issue(actor, pk)
        else:
            highrisk.cancel_issue(actor, pk, reason=request.POST.get("reason", ""))
    except ActionError as exc:
        return _cabinet(request, errors=_messages(exc), status=_status(exc))
    return _back(request)


@login_required
@require_POST
def reconcile(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    day = date_param(request, "day") or timezone.localdate()
    try:
        highrisk.run_reconciliation(actor, institution_id=int_param_post(request, "institution"), on=day)
    except (ActionError, NotFoundField) as exc:
        return _cabinet(request, errors=_messages(exc), status=_status(exc))
    return redirect(
        reverse("inventory:highrisk")
        + f"?institution={request.POST.get('institution', '')}&day={day.isoformat()}"
    )


@login_required
def register_page(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    products = _products(actor)
    product_id = int_param(request, "product") or (products[0].pk if products else None)
    ctx: dict[str, Any] = {"institutions": found, "institution": inst, "products": products, "errors": []}
    if product_id is None:
        return render(request, "inventory/highrisk_register.html", ctx)
    try:
        start, end = register.period(date_param(request, "start"), date_param(request, "end"))
        reg = register.build(actor, institution_id=inst.pk, product_id=product_id, start=start, end=end)
    except (ActionError, NotFoundField) as exc:
        ctx["errors"] = _messages(exc)
        return render(request, "inventory/highrisk_register.html", ctx, status=_status(exc))
    fmt = request.GET.get("format")
    if fmt == "pdf":
        return attachment(register.render_pdf(reg), "application/pdf", register.filename(reg, "pdf"))
    if fmt == "xlsx":
        return attachment(register.render_xlsx(reg), XLSX, register.filename(reg, "xlsx"))
    ctx.update({"r": reg, "product_id": product_id, "title": _("高风险药品专用账册")})
    return render(request, "inventory/highrisk_register.html", ctx)
