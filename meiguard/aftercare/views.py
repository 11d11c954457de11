"""Aftercare pages: my follow-ups (overdue / today) and reactions, the follow-up form, the reaction report form,
the reaction page (timeline and clock) and the institution lists with filters.

Thin views: parse, call one query or action, render. Foreign ids are 404s; an action's error re-renders the
form with the action's status (422 / 403 / 409), never a 500 and never a partial write.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.clinical.models import Case
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, paginate, param
from meiguard.core.permissions import require
from meiguard.registry.models import Institution

from . import actions, permissions, policy, queries
from .choices import (
    ClockState,
    FollowUpStatus,
    ReactionGrade,
    ReactionStatus,
    Recovery,
    StepKind,
)


def _institutions(request: HttpRequest) -> list[Institution]:
    found = permissions.institutions(_actor(request))
    if not found:
        raise PermissionDenied(_("随访与不良反应仅对医疗机构的医护和管理人员开放"))
    return found


def _chosen(request: HttpRequest, found: list[Institution]) -> Institution:
    wanted = int_param(request, "institution")
    return next((i for i in found if i.pk == wanted), found[0])


def _errors(exc: ActionError) -> list[str]:
    if isinstance(exc, FieldErrors):
        return [m for msgs in exc.errors.values() for m in msgs]
    return [str(exc)]


def _status(exc: ActionError) -> int:
    return exc.status if 400 <= exc.status < 500 else 422


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """My overdue and today's follow-ups and the open reactions I am responsible for."""
    actor = _actor(request)
    _institutions(request)
    work = queries.my_work(actor)
    return render(request, "aftercare/mine.html", {"work": work, "now": timezone.now()})


@login_required
def follow_up_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    status = param(request, "status")
    due = param(request, "due")
    status = status if status in FollowUpStatus.values else ""
    due = due if due in ("today", "overdue", "open") else ""
    qs = queries.follow_ups(actor, institution_id=inst.pk, status=status, due=due)
    case_id = int_param(request, "case")
    if case_id:
        qs = qs.filter(case_id=case_id)
    ctx: dict[str, Any] = {
        "institutions": found,
        "institution": inst,
        "status": status,
        "due": due,
        "statuses": FollowUpStatus.choices,
        "now": timezone.now(),
        **paginate(request, qs),
    }
    return render(request, "aftercare/follow_ups.html", ctx)


def _checkbox(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


@login_required
def follow_up_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        fu = queries.follow_up(actor, pk)
    except NotFoundField:
        raise Http404 from None
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        require(actor, "aftercare.record", fu)
        raw = (request.POST.get("satisfaction") or "").strip()
        satisfaction = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else None
        try:
            if raw and satisfaction is None:
                raise FieldErrors({"satisfaction": [_("满意度须为 1–5 的整数")]})
            actions.record_follow_up(
                actor,
                fu.pk,
                reached=request.POST.get("reached") != "no",
                recovery=request.POST.get("recovery", ""),
                adverse_signs=_checkbox(request, "adverse_signs"),
                satisfaction=satisfaction,
                notes=request.POST.get("notes", ""),
                reaction_grade=request.POST.get("reaction_grade", ""),
                reaction_description=request.POST.get("reaction_description", ""),
            )
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        else:
            messages.success(request, _("随访已记录"))
            return redirect("aftercare:follow_up", pk=fu.pk)
    ctx = {
        "fu": fu,
        "errs": errs,
        "post": request.POST if request.method == "POST" else {},
        "recoveries": Recovery.choices,
        "grades": ReactionGrade.choices,
        "reactions": list(fu.reactions.all()),
        "now": timezone.now(),
    }
    return render(request, "aftercare/follow_up.html", ctx, status=status)


@login_required
def reaction_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    grade = param(request, "grade")
    status = param(request, "status")
    clock = param(request, "clock")
    grade = grade if grade in ReactionGrade.values else ""
    status = status if status in ReactionStatus.values else ""
    clock = clock if clock in ("running", "overdue", "handled") else ""
    qs = queries.reactions(actor, institution_id=inst.pk, grade=grade, status=status, clock=clock)
    ctx: dict[str, Any] = {
        "institutions": found,
        "institution": inst,
        "grade": grade,
        "status": status,
        "clock": clock,
        "grades": ReactionGrade.choices,
        "statuses": ReactionStatus.choices,
        "now": timezone.now(),
        "flagged": queries.flagged_lots(actor, inst.pk),
        **paginate(request, qs),
    }
    return render(request, "aftercare/reactions.html", ctx)


@login_required
def reaction_new(request: HttpRequest) -> HttpResponse:
    """Report a reaction of a treated case (``?case=<id>``)."""
    actor = _actor(request)
    case_id = int_param(request, "case")
    case = (
        Case.objects.visible_to(actor).select_related("institution", "client").filter(pk=case_id).first()
        if case_id
        else None
    )
    if case is None:
        raise Http404
    require(actor, "aftercare.record", case)
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        try:
            rx = actions.report_reaction(
                actor,
                case_id=case.pk,
                grade=request.POST.get("grade", ""),
                description=request.POST.get("description", ""),
                source="staff",
            )
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        else:
            messages.success(request, _("不良反应已报告,计时开始"))
            return redirect("aftercare:reaction", pk=rx.pk)
    ctx = {
        "case": case,
        "errs": errs,
        "post": request.POST if request.method == "POST" else {},
        "clocks": [(g, label, policy.CLOCKS[g]) for g, label in ReactionGrade.choices],
        "source": policy.CLOCKS[ReactionGrade.MILD].source(None),
    }
    return render(request, "aftercare/reaction_new.html", ctx, status=status)


def _reaction_ctx(actor: Any, pk: int) -> dict[str, Any]:
    try:
        rx = queries.reaction(actor, pk)
    except NotFoundField:
        raise Http404 from None
    now = timezone.now()
    clock = policy.CLOCKS[rx.grade]
    steps = list(rx.steps.all())
    state = rx.clock_state(now)
    left = rx.remaining(now)
    return {
        "rx": rx,
        "steps": steps,
        "lots": list(rx.lots.all()),
        "state": state,
        "state_label": ClockState(state).label,
        "minutes_left": int(left.total_seconds() // 60),
        "required": [StepKind(k).label for k in StepKind.values if k in clock.required],
        "missing": [StepKind(k).label for k in clock.missing({s.kind for s in steps})],
        "source": clock.source(None),
        "kinds": StepKind.choices,
        "now": now,
        "within_minutes": int(clock.within.total_seconds() // 60),
    }


@login_required
def reaction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ctx = _reaction_ctx(_actor(request), pk)
    return render(request, "aftercare/reaction.html", {**ctx, "errs": [], "post": {}})


@login_required
@require_POST
def reaction_step(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    ctx = _reaction_ctx(actor, pk)
    require(actor, "aftercare.record", ctx["rx"])
    try:
        actions.record_step(actor, pk, kind=request.POST.get("kind", ""), note=request.POST.get("note", ""))
    except ActionError as exc:
        return render(
            request,
            "aftercare/reaction.html",
            {**ctx, "errs": _errors(exc), "post": request.POST},
            status=_status(exc),
        )
    messages.success(request, _("处置步骤已记录"))
    return redirect("aftercare:reaction", pk=pk)
