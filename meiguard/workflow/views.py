"""Pages of the workflow app: applications, evidence, the “what's missing” preview, approvals, committees.

Thin views: parse, call one query or action, render. An object the actor cannot see is a 404; an action
the actor may not take on a visible object is a 403; a state conflict (already decided, wrong state) is
shown on the page with status 409.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.audit.display import describe
from meiguard.authz.choices import AuthorizationKind
from meiguard.core import permissions
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param as _int_param
from meiguard.core.params import paginate as _page
from meiguard.core.params import param as _param
from meiguard.registry.models import Institution, Qualification
from meiguard.rules.choices import Subject

from . import actions, preview, queries
from .choices import ApplicationStatus, EvidenceKind, RiskLevel, Stage
from .forms import (
    ActForm,
    ApplicationForm,
    BatchActForm,
    CommitteeForm,
    EvidenceForm,
    WithdrawForm,
    apply_error,
)
from .models import Application, ApprovalStep, ExpertCommittee
from .reasons import risk_message

LABELS = {"stages": Stage.choices, "evidence_kinds": EvidenceKind.choices, "risk_choices": RiskLevel.choices}


def _forbid_or_raise(exc: ActionError) -> None:
    """An action refused for who the actor is → 403 page; anything else is for the caller to show."""
    if exc.status == 403:
        raise PermissionDenied(str(exc.message))


def _risk_view(app: Application) -> list[dict[str, Any]]:
    return [
        {
            "code": r.get("code", ""),
            "level": r.get("level", ""),
            "message": risk_message(r.get("code", ""), r.get("facts", {})),
            "source": r.get("source", ""),
        }
        for r in app.risk_reasons or []
    ]


def _labelled(entries: list[Any]) -> list[Any]:
    return describe(entries)


# ---- lists -------------------------------------------------------------------------------------


@login_required
def application_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    view = _param(request, "view")
    view = view if view in queries.VIEWS else "all"
    status = _param(request, "status")
    kind = _param(request, "kind")
    risk = _param(request, "risk")
    qs = queries.applications(
        actor,
        view=view,
        status=status if status in ApplicationStatus.values else "",
        institution_id=_int_param(request, "institution"),
        kind=kind if kind in AuthorizationKind.values else "",
        risk_level=risk if risk in RiskLevel.values else "",
    )
    ctx = _page(request, qs) | {
        "f": request.GET,
        "view": view,
        "views": [("all", _("全部可见")), ("mine", _("我的申请")), ("to_approve", _("待我审批"))],
        "statuses": ApplicationStatus.choices,
        "kinds": AuthorizationKind.choices,
        "risks": RiskLevel.choices,
        "institutions": Institution.objects.visible_to(actor).order_by("name", "pk"),
        "can_apply": permissions.can(actor, "workflow.apply"),
    }
    return render(request, "workflow/application_list.html", ctx)


def _waiting(step: ApprovalStep, now: Any) -> dict[str, Any]:
    """How long a step has waited and the highest reminder threshold (3 / 7 / 14 days) it has reached."""
    days = max((now - step.opened_at).days, 0) if step.opened_at else 0
    reached = [t for t in actions.WAITING_THRESHOLDS if days >= t]
    return {"days": days, "overdue": reached[-1] if reached else 0}


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """待我审批: the open steps the actor may act on now, longest waiting first, with their evidence; several
    can be approved or returned at once (each still its own act)."""
    actor = _actor(request)
    pending = queries.pending_for(actor)
    form: BatchActForm | None = None
    status = 200
    if request.method == "POST":
        form = BatchActForm(request.POST, step_ids=list(pending.values_list("pk", flat=True)))
        if form.is_valid():
            done, failed = 0, []
            for step_id in form.cleaned_data["steps"]:
                try:
                    actions.act(
                        actor,
                        step_id,
                        verdict=form.cleaned_data["verdict"],
                        comment=form.cleaned_data.get("comment") or "",
                    )
                except (NotFoundField, ActionError) as exc:
                    failed.append(f"#{step_id}: {getattr(exc, 'message', '') or exc}")
                else:
                    done += 1
            if done:
                messages.success(request, _("已处理 %(n)s 个审批环节") % {"n": done})
            for text in failed:
                messages.error(request, text)
            return redirect("workflow:inbox")
        status = 422
    ctx = _page(request, pending)
    now = timezone.now()
    steps = list(ctx["page"])
    evidence: dict[int, list[Any]] = {}
    for e in queries.evidence_for([s.application_id for s in steps]):
        evidence.setdefault(e.application_id, []).append(e)
    ctx["rows"] = [
        {"step": s, "app": s.application, "evidence": evidence.get(s.application_id, []), **_waiting(s, now)}
        for s in steps
    ]
    ctx["batch_form"] = form or BatchActForm(step_ids=[s.pk for s in steps])
    return render(request, "workflow/inbox.html", ctx, status=status)


# ---- drafts ------------------------------------------------------------------------------------


@login_required
def application_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "workflow.apply")
    initial: dict[str, Any] = {"valid_from": timezone.localdate(), "kind": AuthorizationKind.QUALIFICATION}
    places = queries.institutions_for_apply(actor)
    if len(places) == 1:
        initial["institution"] = places[0].pk
    own = (
        queries.practitioners_for_apply(actor).filter(user_id=actor.user_id).first()
        if actor.user_id
        else None
    )
    if own is not None:
        initial["practitioner"] = own.pk
    for name in ("institution", "practitioner"):
        value = _int_param(request, name)
        if value:
            initial[name] = value
    initial.update(_prefill(request))
    form = ApplicationForm(request.POST or None, initial=initial, actor=actor)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                app = actions.create_application(
                    actor, institution_id=form.cleaned_data["institution"], data=form.data_for_action()
                )
            except (NotFoundField, ActionError) as exc:
                apply_error(form, exc)  # shown on the field it names (e.g. "only for yourself")
                status = exc.status if isinstance(exc, ActionError) else 404
            else:
                messages.success(request, _("申请草稿已保存。请上传材料并查看缺项后提交。"))
                return redirect("workflow:detail", pk=app.pk)
        else:
            status = 422
    return render(request, "workflow/application_form.html", {"form": form, "object": None}, status=status)


# What a refused check links here with (authz/fixes.py): the kind and the one scope field that was missing.
PREFILL_FIELDS = ("procedure_code", "product_brand", "device_model")


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """Initial values from the query string, only those that fit their field (the rest are ignored)."""
    out: dict[str, Any] = {}
    kind = _param(request, "kind")
    if kind in AuthorizationKind.values:
        out["kind"] = kind
    subject = _param(request, "subject")
    if subject in Subject.values:
        out["subject"] = subject
    for name in PREFILL_FIELDS:
        value = request.GET.get(name, "").strip()
        field = ApplicationForm.base_fields[name]
        if value and len(value) <= (getattr(field, "max_length", None) or 0):
            out[name] = value
    return out


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    app = queries.application(actor, pk)  # 404 if not visible
    if app.applicant_id != actor.user_id:
        raise PermissionDenied(_("只有申请人本人可以修改该申请"))
    if not app.is_editable:
        messages.error(request, _("申请当前状态为“%(s)s”,不能修改") % {"s": app.get_status_display()})
        return redirect("workflow:detail", pk=pk)
    form = ApplicationForm(
        request.POST or None, initial=ApplicationForm.initial_for(app), actor=actor, editing=app
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.update_application(actor, pk, data=form.data_for_action())
            except (NotFoundField, ActionError) as exc:
                apply_error(form, exc)
                status = exc.status if isinstance(exc, ActionError) else 404
            else:
                messages.success(request, _("申请已保存"))
                return redirect("workflow:detail", pk=pk)
        else:
            status = 422
    return render(request, "workflow/application_form.html", {"form": form, "object": app}, status=status)


# ---- detail ------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, app: Application) -> dict[str, Any]:
    actor = _actor(request)
    step = queries.current_step(app)
    can_act = step is not None and queries.pending_for(actor).filter(pk=step.pk).exists()
    qualifications = (
        Qualification.objects.visible_to(actor)
        .filter(practitioner_id=app.practitioner_id)
        .order_by("kind", "pk")
        if app.practitioner_id
        else Qualification.objects.none()
    )
    return {
        "object": app,
        "risk_reasons": _risk_view(app),
        "evidence": queries.evidence(app),
        "timeline": queries.timeline(app),
        "history": _labelled(queries.history(actor, app)),
        "can_manage": queries.can_manage(actor, app),
        "can_withdraw": queries.can_withdraw(actor, app),
        "current_step": step,
        "can_act": can_act,
        "evidence_form": EvidenceForm(qualifications=qualifications),
        "withdraw_form": WithdrawForm(),
        "gaps_at_submission": app.gaps_at_submission,
    } | LABELS


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    app = queries.application(_actor(request), pk)
    return render(request, "workflow/application_detail.html", _detail_context(request, app))


@login_required
def missing(request: HttpRequest, pk: int) -> HttpResponse:
    """The “what's missing” preview: an htmx fragment on the detail page, or a page of its own."""
    actor = _actor(request)
    app = queries.application(actor, pk)
    ctx = {"object": app, "preview": preview.build(actor, app)} | LABELS
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "workflow/partials/_missing.html", ctx)
    return render(request, "workflow/missing.html", ctx)


# ---- evidence ----------------------------------------------------------------------------------


@login_required
@require_POST
def evidence_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    app = queries.application(actor, pk)
    qualifications = Qualification.objects.visible_to(actor).filter(practitioner_id=app.practitioner_id)
    form = EvidenceForm(request.POST, request.FILES, qualifications=qualifications)
    if form.is_valid():
        try:
            actions.add_evidence(
                actor,
                pk,
                kind=form.cleaned_data["kind"],
                file=form.cleaned_data.get("file"),
                note=form.cleaned_data.get("note") or "",
                qualification_id=form.cleaned_data.get("qualification"),
            )
        except (NotFoundField, ActionError) as exc:
            if isinstance(exc, ActionError):
                _forbid_or_raise(exc)
            apply_error(form, exc)
        else:
            messages.success(request, _("材料已上传"))
            return redirect("workflow:detail", pk=pk)
    ctx = _detail_context(request, app) | {"evidence_form": form}
    return render(request, "workflow/application_detail.html", ctx, status=422)


@login_required
@require_POST
def evidence_remove(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    actor = _actor(request)
    queries.application(actor, pk)
    try:
        actions.remove_evidence(actor, pk, evidence_id)
    except ActionError as exc:
        _forbid_or_raise(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("材料已移除"))
    return redirect("workflow:detail", pk=pk)


@login_required
def evidence_file(request: HttpRequest, pk: int, evidence_id: int) -> FileResponse:
    """Download an evidence file: only for those who may see the application."""
    item = queries.evidence_item(_actor(request), pk, evidence_id)
    if not item.file:
        raise Http404(_("没有文件"))
    name = item.original_name or item.file.name.rsplit("/", 1)[-1]
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=name)


# ---- submission, withdrawal --------------------------------------------------------------------


@login_required
@require_POST
def application_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    queries.application(actor, pk)
    try:
        app = actions.submit(actor, pk)
    except ActionError as exc:
        _forbid_or_raise(exc)
        if isinstance(exc, FieldErrors):
            for field, msgs in exc.errors.items():
                for m in msgs:
                    messages.error(request, f"{field}: {m}")
        else:
            messages.error(request, str(exc.message))
    else:
        if app.gaps_at_submission:
            messages.warning(
                request,
                _("申请已提交。注意:仍有 %(n)s 项缺项,批准后核验仍会拒绝,直到补齐。")
                % {"n": len(app.gaps_at_submission)},
            )
        else:
            messages.success(request, _("申请已提交,等待审批"))
    return redirect("workflow:detail", pk=pk)


@login_required
@require_POST
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    queries.application(actor, pk)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        actions.withdraw(actor, pk, reason=reason)
    except ActionError as exc:
        _forbid_or_raise(exc)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("申请已撤回"))
    return redirect("workflow:detail", pk=pk)


# ---- approval ----------------------------------------------------------------------------------


@login_required
def act(request: HttpRequest, pk: int) -> HttpResponse:
    """The approval form for the open step: approve / reject / return, with a comment."""
    actor = _actor(request)
    app = queries.application(actor, pk)
    step: ApprovalStep | None = queries.current_step(app)
    status = 200
    if request.method == "POST":
        form = ActForm(request.POST)
        if form.is_valid():
            try:
                actions.act(
                    actor,
                    form.cleaned_data["step_id"],
                    verdict=form.cleaned_data["verdict"],
                    comment=form.cleaned_data.get("comment") or "",
                )
            except (NotFoundField, ActionError) as exc:
                if isinstance(exc, ActionError):
                    _forbid_or_raise(exc)
                apply_error(form, exc)
                status = exc.status if isinstance(exc, ActionError) else 404
            else:
                messages.success(request, _("审批意见已提交"))
                return redirect("workflow:detail", pk=pk)
        else:
            status = 422
        app = queries.application(actor, pk)
        step = queries.current_step(app)
    else:
        if step is None or not queries.pending_for(actor).filter(pk=step.pk).exists():
            raise PermissionDenied(_("该申请当前没有需要您处理的审批环节"))
        form = ActForm(initial={"step_id": step.pk})
    ctx = _detail_context(request, app) | {"form": form, "step": step}
    return render(request, "workflow/act.html", ctx, status=status)


# ---- committees --------------------------------------------------------------------------------


@login_required
def committee(request: HttpRequest) -> HttpResponse:
    """Committees the actor can see; the institution's committee settings for those who may change them."""
    actor = _actor(request)
    editable = queries.committee_institutions(actor)
    chosen_id = _int_param(request, "institution") or (editable[0].pk if editable else None)
    inst = next((i for i in editable if i.pk == chosen_id), None)
    form = None
    status = 200
    if inst is not None:
        current = ExpertCommittee.objects.filter(institution=inst).first()
        initial: dict[str, Any] = (
            {
                "name": current.name,
                "quorum": current.quorum,
                "members": list(current.members.values_list("pk", flat=True)),
                "is_active": current.is_active,
            }
            if current
            else {"name": _("医疗技术临床应用管理委员会"), "quorum": 2, "is_active": True}
        )
        form = CommitteeForm(
            request.POST or None, initial=initial, candidates=queries.member_candidates(inst)
        )
        if request.method == "POST":
            if form.is_valid():
                try:
                    actions.save_committee(
                        actor,
                        institution_id=inst.pk,
                        name=form.cleaned_data["name"],
                        quorum=form.cleaned_data["quorum"],
                        member_ids=form.cleaned_data.get("members") or [],
                        is_active=bool(form.cleaned_data.get("is_active")),
                    )
                except (NotFoundField, ActionError) as exc:
                    if isinstance(exc, ActionError):
                        _forbid_or_raise(exc)
                    if isinstance(exc, FieldErrors) and "member_ids" in exc.errors:
                        exc.errors["members"] = exc.errors.pop("member_ids")
                    apply_error(form, exc)
                else:
                    messages.success(request, _("专家委员会已保存"))
                    return redirect(f"{request.path}?institution={inst.pk}")
            status = 422
    elif request.method == "POST":
        raise PermissionDenied(_("只有机构管理员或授权专员可以设置专家委员会"))
    ctx = {
        "committees": queries.committees(actor),
        "editable": editable,
        "institution": inst,
        "form": form,
    }
    return render(request, "workflow/committee.html", ctx, status=status)
