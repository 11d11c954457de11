"""Recall pages: the list (overdue flagged), a new notice, a notice's detail (affected lots, quarantined stock,
affected clients for the compliance officer / 医务科, return or destroy, complete), the report downloads and
the direct recall of one lot from its movement page. Thin: parse, call ``recall``, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.registry.choices import RecallLevel
from meiguard.registry.models import Product
from meiguard.reviews.reports import XLSX, attachment

from . import permissions, recall, recall_report
from .choices import RECALL_SOURCES, ClockState, RecallDisposal, RecallSource
from .views import LABELS, _chosen, _institutions, _messages, _source, _status

RECALL_LABELS: dict[str, Any] = {
    **LABELS,
    "level": gettext_lazy("召回级别"),
    "source": gettext_lazy("召回来源"),
    "lot_nos": gettext_lazy("召回批号"),
    "issued_on": gettext_lazy("召回决定日期"),
    "received_at": gettext_lazy("收到通知时间"),
    "reference_no": gettext_lazy("召回通知编号"),
    "disposal": gettext_lazy("处理方式"),
    "note": gettext_lazy("完成说明"),
}


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, FieldErrors):
        out: list[str] = []
        for name, msgs in exc.errors.items():
            label = RECALL_LABELS.get(name.split("[", 1)[0].rsplit(".", 1)[-1], "")
            out += [f"{label}:{m}" if label else str(m) for m in msgs]
        return out
    return _messages(exc)


def _int(value: str | None) -> int | None:
    raw = (value or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@login_required
def recalls(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    today = timezone.localdate()
    rows = list(recall.listed(actor, inst.pk)[:200])
    overdue = 0
    for n in rows:
        state = recall.list_state(n, today)
        n.state, n.state_label = state, ClockState(state).label  # type: ignore[attr-defined]
        overdue += state == ClockState.OVERDUE
    ctx = {
        "institutions": found,
        "institution": inst,
        "notices": rows,
        "overdue": overdue,
        "can_keep": permissions.can_keep(actor, inst.organization_id),
        "source": _source(*RECALL_SOURCES),
    }
    return render(request, "inventory/recall_list.html", ctx)


def _form_data(post: Any) -> dict[str, Any]:
    lot_nos = [s.strip() for s in (post.get("lot_nos") or "").replace(",", "\n").splitlines() if s.strip()]
    data: dict[str, Any] = {
        "level": _int(post.get("level")),
        "source": post.get("source") or "",
        "reason": post.get("reason") or "",
        "reference_no": post.get("reference_no") or "",
        "lot_nos": lot_nos,
        "all_lots": post.get("all_lots") == "1",
    }
    issued = (post.get("issued_on") or "").strip()
    try:
        data["issued_on"] = dt.date.fromisoformat(issued) if issued else None
    except ValueError:
        data["issued_on"] = "bad"
    received = (post.get("received_at") or "").strip()
    try:
        data["received_at"] = dt.datetime.fromisoformat(received) if received else None
    except ValueError:
        data["received_at"] = "bad"
    return data


@login_required
def recall_new(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    if not permissions.can_keep(actor, inst.organization_id):
        raise PermissionDenied(_("只有机构管理员、采购和授权专员可以登记召回"))
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            notice = recall.create_notice(
                actor,
                product_id=_int(request.POST.get("product_id")) or 0,
                institution_id=inst.pk,
                data=_form_data(request.POST),
            )
        except (ActionError, NotFoundField) as exc:
            errors, status = _errors(exc), _status(exc)
        else:
            return redirect(reverse("inventory:recall", args=[notice.pk]))
    ctx = {
        "institutions": found,
        "institution": inst,
        "errors": errors,
        "v": request.POST,
        "products": list(Product.objects.visible_to(actor).order_by("generic_name", "brand_name")[:1000]),
        "levels": RecallLevel.choices,
        "sources": RecallSource.choices,
        "source": _source(*RECALL_SOURCES),
    }
    return render(request, "inventory/recall_new.html", ctx, status=status)


def _detail(
    request: HttpRequest, pk: int, *, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    actor = _actor(request)
    data = recall_report.report_data(actor, pk)
    counts = recall.client_counts(r.lot_id for r in data.rows)
    for r in data.rows:
        r.clients = counts.get(r.lot_id, 0)  # type: ignore[attr-defined]
        r.can_keep = permissions.can_keep(actor, r.institution.organization_id)  # type: ignore[attr-defined]
    contact_orgs = {
        p.institution.pk for p in data.parts if recall.may_see_contacts(actor, p.institution.organization_id)
    }
    ctx = {
        "r": data,
        "n": data.notice,
        "institution": data.parts[0].institution if data.parts else data.notice.institution,
        "errors": errors or [],
        "keep_parts": [p for p in data.parts if permissions.can_keep(actor, p.institution.organization_id)],
        "contacts_hidden": [p for p in data.parts if p.institution.pk not in contact_orgs and p.clients],
        "disposals": RecallDisposal.choices,
        "overdue": data.state == ClockState.OVERDUE,
    }
    return render(request, "inventory/recall_detail.html", ctx, status=status)


@login_required
def recall_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


@login_required
@require_POST
def recall_dispose(request: HttpRequest, pk: int, row: int) -> HttpResponse:
    try:
        recall.dispose(
            _actor(request),
            row,
            disposal=request.POST.get("disposal", ""),
            quantity=(request.POST.get("quantity") or "").strip() or None,
            reason=request.POST.get("reason", ""),
        )
    except (ActionError, NotFoundField) as exc:
        return _detail(request, pk, errors=_errors(exc), status=_status(exc))
    return redirect(reverse("inventory:recall", args=[pk]))


@login_required
@require_POST
def recall_complete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        recall.complete(
            _actor(request),
            pk,
            institution_id=_int(request.POST.get("institution_id")) or 0,
            note=request.POST.get("note", ""),
        )
    except (ActionError, NotFoundField) as exc:
        return _detail(request, pk, errors=_errors(exc), status=_status(exc))
    return redirect(reverse("inventory:recall", args=[pk]))


@login_required
def lot_recall(request: HttpRequest, pk: int) -> HttpResponse:
    """Recall one lot directly (an internal notice): a short form reached from the lot's movement page."""
    actor = _actor(request)
    lot = recall.lot_for_recall(actor, pk)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            notice = recall.recall_lot(
                actor,
                pk,
                level=_int(request.POST.get("level")) or 0,
                reason=request.POST.get("reason", ""),
                reference_no=request.POST.get("reference_no", ""),
            )
        except (ActionError, NotFoundField) as exc:
            errors, status = _errors(exc), _status(exc)
        else:
            return redirect(reverse("inventory:recall", args=[notice.pk]))
    ctx = {
        "lot": lot,
        "institution": lot.institution,
        "errors": errors,
        "v": request.POST,
        "levels": RecallLevel.choices,
        "source": _source(*RECALL_SOURCES),
    }
    return render(request, "inventory/recall_lot.html", ctx, status=status)


@login_required
def recall_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    notice = recall.notice(actor, pk)
    return attachment(recall_report.render_xlsx(actor, pk), XLSX, recall_report.filename(notice, "xlsx"))


@login_required
def recall_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    notice = recall.notice(actor, pk)
    return attachment(
        recall_report.render_pdf(actor, pk), "application/pdf", recall_report.filename(notice, "pdf")
    )
