"""Complaint pages: the list with SLA badges and filters, the intake form, and the complaint page (both clocks,
timeline, and only the actions the signed-in person may take now).

Thin views: parse, call one query or action, render. Foreign ids are 404s; an action's error re-renders the
page with the action's status (422 / 403 / 409), never a 500 and never a partial write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import User
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, paginate, param
from meiguard.core.permissions import can, require
from meiguard.registry.models import Practitioner

from . import actions, permissions, policy, queries
from .choices import COMPLAINT_TAKERS, STAFF_CHANNELS, Category, Channel, SlaState, Status


def _errors(exc: ActionError) -> list[str]:
    if isinstance(exc, FieldErrors):
        return [m for msgs in exc.errors.values() for m in msgs]
    return [str(exc)]


def _status(exc: ActionError) -> int:
    return exc.status if 400 <= exc.status < 500 else 422


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require(actor, "complaints.view")
    found = permissions.institutions(actor)
    inst_id = int_param(request, "institution")
    inst_id = inst_id if any(i.pk == inst_id for i in found) else None
    status = param(request, "status")
    category = param(request, "category")
    sla = param(request, "sla")
    status = status if status in Status.values else ""
    category = category if category in Category.values else ""
    sla = sla if sla in queries.SLA_FILTERS else ""
    mine = param(request, "mine") == "1"
    qs = queries.complaints(
        actor, institution_id=inst_id, status=status, category=category, sla=sla, mine=mine
    )
    ctx: dict[str, Any] = {
        "institutions": found,
        "institution_id": inst_id,
        "status": status,
        "category": category,
        "sla": sla,
        "mine": mine,
        "statuses": Status.choices,
        "categories": Category.choices,
        "slas": [(s, SlaState(s).label) for s in queries.SLA_FILTERS],
        "now": timezone.now(),
        "may_receive": can(actor, "complaints.receive"),
        **paginate(request, qs),
    }
    return render(request, "complaints/list.html", ctx)


def _bool(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


def _local_time(raw: str) -> dt.datetime | None:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local input) or ``YYYY-MM-DD HH:MM`` in local time."""
    raw = raw.strip().replace("T", " ")
    if not raw or len(raw) > 16:
        return None
    try:
        naive = dt.datetime.strptime(raw, "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    if not 2000 <= naive.year <= 2199:
        return None
    return timezone.make_aware(naive)


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


@login_required
def complaint_new(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require(actor, "complaints.receive")
    found = permissions.institutions(actor)
    if not found:
        raise PermissionDenied(_("只有本机构的医护和管理人员可以受理投诉"))
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        raw_case = request.POST.get("case_id", "")
        raw_sat = request.POST.get("satisfaction", "")
        try:
            bad: dict[str, list[str]] = {}
            case_id = _int(raw_case)
            if raw_case.strip() and case_id is None:
                bad["case_id"] = [_("病例编号须为数字")]
            satisfaction = _int(raw_sat)
            if raw_sat.strip() and satisfaction is None:
                bad["satisfaction"] = [_("满意度须为 1–5 的整数")]
            received_at = _local_time(request.POST.get("received_at", ""))
            if request.POST.get("received_at", "").strip() and received_at is None:
                bad["received_at"] = [_("时间格式应为 YYYY-MM-DD HH:MM")]
            people = [_int(v) for v in request.POST.getlist("practitioner_ids")[:50]]
            if any(p is None for p in people):
                bad["practitioner_ids"] = [_("编号无效")]
            if bad:
                raise FieldErrors(bad)
            c = actions.receive(
                actor,
                institution_id=_int(request.POST.get("institution")) or 0,
                channel=request.POST.get("channel", ""),
                category=request.POST.get("category", ""),
                complainant_name=request.POST.get("complainant_name", ""),
                complainant_contact=request.POST.get("complainant_contact", ""),
                description=request.POST.get("description", ""),
                case_id=case_id,
                practitioner_ids=[p for p in people if p is not None],
                received_at=received_at,
                multi_department=_bool(request, "multi_department"),
                on_spot=_bool(request, "on_spot"),
                resolution=request.POST.get("resolution", ""),
                complainant_confirmed=_bool(request, "complainant_confirmed"),
                satisfaction=satisfaction,
            )
        except NotFoundField:
            errs, status = [_("请选择您所在的机构")], 422
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        else:
            messages.success(request, _("投诉已受理,编号 %(no)s") % {"no": c.tracking_no})
            return redirect("complaints:detail", pk=c.pk)
    values = actions.settings_for(found[0], timezone.now())
    staff = (
        Practitioner.objects.visible_to(actor)
        .filter(main_institution__in=found, status="active")
        .order_by("name", "pk")[:200]
    )
    ctx = {
        "institutions": found,
        "staff": list(staff),
        "channels": [(c, Channel(c).label) for c in STAFF_CHANNELS],
        "categories": Category.choices,
        "errs": errs,
        "post": request.POST if request.method == "POST" else {},
        "ack_hours": values[policy.ACK_HOURS_RULE],
        "resolve_days": values[policy.RESOLVE_DAYS_RULE],
        "resolve_days_multi": values[policy.RESOLVE_DAYS_MULTI_RULE],
        "source": policy.source(None),
    }
    return render(request, "complaints/new.html", ctx, status=status)


def _detail_ctx(request: HttpRequest, pk: int) -> dict[str, Any]:
    actor = _actor(request)
    try:
        c = queries.complaint(actor, pk)
    except NotFoundField:
        raise Http404 from None
    now = timezone.now()
    ack, res = c.ack_state(now), c.resolve_state(now)
    allowed = {a: permissions.allowed(actor, c, a) for a in permissions.ACTIONS}
    colleagues: list[User] = []
    if allowed["handover"]:
        colleagues = list(
            User.objects.filter(
                is_active=True,
                memberships__organization_id=c.institution.organization_id,
                memberships__role__in=sorted(COMPLAINT_TAKERS),
                memberships__is_active=True,
            )
            .exclude(pk=c.owner_id or 0)
            .distinct()
            .order_by("display_name", "username")
        )
    return {
        "c": c,
        "events": list(c.events.all()),
        "practitioners": list(c.practitioners.all()),
        "ack_state": ack,
        "ack_label": SlaState(ack).label,
        "res_state": res,
        "res_label": SlaState(res).label,
        "allowed": allowed,
        "any_action": any(allowed.values()),
        "colleagues": colleagues,
        "source": policy.source(None),
        "now": now,
        "errs": [],
        "post": {},
    }


@login_required
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "complaints/detail.html", _detail_ctx(request, pk))


@login_required
@require_POST
def complaint_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor = _actor(request)
    if action not in permissions.ACTIONS:
        raise Http404
    ctx = _detail_ctx(request, pk)
    p = request.POST
    try:
        if action == "acknowledge":
            actions.acknowledge(actor, pk, note=p.get("note", ""))
        elif action == "investigate":
            actions.investigate(actor, pk, note=p.get("note", ""))
        elif action == "note":
            actions.add_note(actor, pk, note=p.get("note", ""))
        elif action == "handover":
            to = _int(p.get("to_user_id"))
            if to is None:
                raise FieldErrors({"to_user_id": [_("请选择接收人")]})
            actions.handover(actor, pk, to_user_id=to, reason=p.get("reason", ""))
        elif action == "resolve":
            actions.resolve_complaint(actor, pk, resolution=p.get("resolution", ""))
        elif action == "close":
            raw = p.get("satisfaction", "")
            sat = _int(raw)
            if raw.strip() and sat is None:
                raise FieldErrors({"satisfaction": [_("满意度须为 1–5 的整数")]})
            actions.close(actor, pk, satisfaction=sat, no_answer_note=p.get("no_answer_note", ""))
        elif action == "escalate":
            actions.escalate(actor, pk, reason=p.get("reason", ""))
        elif action == "withdraw":
            actions.withdraw(actor, pk, reason=p.get("reason", ""))
    except ActionError as exc:
        ctx.update(errs=_errors(exc), post=p, failed=action)
        return render(request, "complaints/detail.html", ctx, status=_status(exc))
    messages.success(request, _("已记录"))
    return redirect("complaints:detail", pk=pk)
