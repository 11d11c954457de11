"""Incident pages: the register with each report clock, the report form (any staff member; prefilled from a
reaction), the incident page (report form pre-filled for submission, grading, submission, closing, seals), the
seal and unseal forms, and the PDF / Excel of the report form.

Thin views: parse, call one query or action, render. Foreign ids are 404s; an action's error re-renders the
form with the action's status (422 / 403 / 409), never a 500 and never a partial write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.clinical.pdf import attachment
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, paginate, param
from meiguard.core.permissions import require
from meiguard.registry.models import Institution

from . import incident_policy as ip
from . import incident_queries as queries
from . import incident_report, incidents, permissions
from . import queries as aftercare_queries
from .choices import (
    SEVERITIES_BY_KIND,
    IncidentGrade,
    IncidentKind,
    IncidentStatus,
    ReportChannel,
    Severity,
)
from .incident_api import XLSX


def _institutions(request: HttpRequest) -> list[Institution]:
    found = permissions.incident_institutions(_actor(request))
    if not found:
        raise PermissionDenied(_("只有本机构的工作人员可以上报不良事件和隐患"))
    return found


def _chosen(request: HttpRequest, found: list[Institution]) -> Institution:
    wanted = int_param(request, "institution")
    return next((i for i in found if i.pk == wanted), found[0])


def _errors(exc: ActionError) -> list[str]:
    if isinstance(exc, FieldErrors):
        return [m for msgs in exc.errors.values() for m in msgs]
    if isinstance(exc, NotFoundField):
        return [_("找不到所选的记录")]
    return [str(exc)]


def _status(exc: ActionError) -> int:
    return exc.status if 400 <= exc.status < 500 else 422


def _when(request: HttpRequest, name: str) -> dt.datetime | None:
    """A ``datetime-local`` field in local time; a bad value is a field error."""
    raw = (request.POST.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise FieldErrors({name: [_("时间格式无效")]}) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _optional_id(request: HttpRequest, name: str) -> int | None:
    raw = (request.POST.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 15):
        raise FieldErrors({name: [_("编号无效")]})
    return int(raw)


def _checked(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


def _severity_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """(kind label, [(value, label)]) for the form: the severities each kind allows, one group per kind."""
    return [
        (str(IncidentKind(k).label), [(v, str(Severity(v).label)) for v in values])
        for k, values in SEVERITIES_BY_KIND.items()
    ]


def _clock_rows() -> list[dict[str, Any]]:
    lang = translation.get_language()
    return [
        {
            "kind": str(IncidentKind(c.kind).label),
            "severity": str(Severity(c.severity).label) if c.severity else _("群体不良事件"),
            "within": incidents.within_label(c),
            "source": c.source(lang),
        }
        for c in ip.CLOCKS.values()
    ]


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    found = _institutions(request)
    inst = _chosen(request, found)
    kind = param(request, "kind")
    status = param(request, "status")
    report = param(request, "report")
    kind = kind if kind in IncidentKind.values else ""
    status = status if status in IncidentStatus.values else ""
    report = report if report in ("due", "overdue", "submitted", "none") else ""
    qs = queries.incidents(actor, institution_id=inst.pk, kind=kind, status=status, report=report)
    ctx: dict[str, Any] = {
        "institutions": found,
        "institution": inst,
        "kind": kind,
        "status": status,
        "report": report,
        "kinds": IncidentKind.choices,
        "statuses": IncidentStatus.choices,
        "now": timezone.now(),
        **paginate(request, qs),
    }
    return render(request, "aftercare/incident_list.html", ctx)


@login_required
def incident_new(request: HttpRequest) -> HttpResponse:
    """Report an incident or a hazard (any staff member of the institution); ``?reaction=<id>`` prefills."""
    actor = _actor(request)
    found = [i for i in _institutions(request) if permissions.can_report_incident(actor, i)]
    if not found:
        raise PermissionDenied(_("只有本机构的工作人员可以上报不良事件和隐患"))
    initial: dict[str, Any] = {
        "kind": IncidentKind.HAZARD,
        "grade": IncidentGrade.IV,
        "severity": "",
        "title": "",
        "description": "",
        "discovered_at": None,
        "case_id": None,
        "lot_id": None,
        "reaction_id": None,
    }
    reaction_id = int_param(request, "reaction")
    inst = _chosen(request, found)
    if reaction_id:
        try:
            rx = aftercare_queries.reaction(actor, reaction_id)
        except NotFoundField:
            raise Http404 from None
        inst = next((i for i in found if i.pk == rx.institution_id), None)  # type: ignore[assignment]
        if inst is None:
            raise Http404
        initial = initial | incidents.reaction_prefill(rx) | {"reaction_id": rx.pk}
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        try:
            chosen = _optional_id(request, "institution") or inst.pk
            inc = incidents.report_incident(
                actor,
                institution_id=chosen,
                kind=request.POST.get("kind", ""),
                grade=request.POST.get("grade", ""),
                severity=request.POST.get("severity", ""),
                title=request.POST.get("title", ""),
                description=request.POST.get("description", ""),
                discovered_at=_when(request, "discovered_at"),
                case_id=_optional_id(request, "case_id"),
                lot_id=_optional_id(request, "lot_id"),
                product_id=_optional_id(request, "product_id"),
                reaction_id=_optional_id(request, "reaction_id"),
            )
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        except NotFoundField as exc:
            errs, status = [_("找不到所选的记录:%(field)s") % {"field": exc.field}], 404
        else:
            messages.success(request, _("已登记,感谢上报"))
            return redirect("aftercare:incident", pk=inc.pk)
    ctx = {
        "institutions": found,
        "institution": inst,
        "initial": initial,
        "post": request.POST if request.method == "POST" else {},
        "errs": errs,
        "kinds": IncidentKind.choices,
        "grades": IncidentGrade.choices,
        "severities": _severity_choices(),
        "clock_rows": _clock_rows(),
        "grading_source": ip.grading_source(None),
        "now": timezone.localtime(),
    }
    return render(request, "aftercare/incident_new.html", ctx, status=status)


def _detail_ctx(request: HttpRequest, pk: int) -> dict[str, Any]:
    actor = _actor(request)
    try:
        form = incident_report.report_form(actor, pk)
    except NotFoundField:
        raise Http404 from None
    i = form.incident
    now = timezone.now()
    state = i.report_state(now)
    left = (i.report_due_at - now) if i.report_due_at else None
    return {
        "i": i,
        "form": form,
        "state": state,
        "left_minutes": int(left.total_seconds() // 60) if left is not None else None,
        "seals": list(i.seals.all()),
        "kinds": IncidentKind.choices,
        "grades": IncidentGrade.choices,
        "severities": _severity_choices(),
        "channels": ReportChannel.choices,
        "now": timezone.localtime(now),
        "errs": [],
        "post": {},
        "manage": permissions.can_manage_incident(actor, i),
    }


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "aftercare/incident_detail.html", _detail_ctx(request, pk))


def _act(request: HttpRequest, pk: int, do: Any, done: str) -> HttpResponse:
    ctx = _detail_ctx(request, pk)
    try:
        do(_actor(request), ctx["i"])
    except ActionError as exc:
        ctx.update(errs=_errors(exc), post=request.POST)
        return render(request, "aftercare/incident_detail.html", ctx, status=_status(exc))
    messages.success(request, done)
    return redirect("aftercare:incident", pk=pk)


@login_required
@require_POST
def incident_grade(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda actor, i: incidents.grade_incident(
            actor,
            i.pk,
            grade=request.POST.get("grade", ""),
            severity=request.POST.get("severity", ""),
            kind=request.POST.get("kind", ""),
        ),
        _("已定级,上报时限已按发现时间重新计算"),
    )


@login_required
@require_POST
def incident_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda actor, i: incidents.submit_report(
            actor,
            i.pk,
            submitted_at=_when(request, "submitted_at"),
            channel=request.POST.get("channel", ""),
            reference=request.POST.get("reference", ""),
        ),
        _("已记录上报,计时停止"),
    )


@login_required
@require_POST
def incident_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda actor, i: incidents.close_incident(actor, i.pk), _("已结案"))


@login_required
def incident_seal(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a joint seal of physical evidence (RP-04): both parties present and confirming."""
    actor = _actor(request)
    try:
        i = queries.incident(actor, pk)
    except NotFoundField:
        raise Http404 from None
    require(actor, "aftercare.incident_report", i)
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        try:
            incidents.record_seal(
                actor,
                i.pk,
                items=request.POST.get("items", ""),
                lot_id=_optional_id(request, "lot_id"),
                sealed_at=_when(request, "sealed_at"),
                place=request.POST.get("place", ""),
                client_party_name=request.POST.get("client_party_name", ""),
                client_party_relation=request.POST.get("client_party_relation", ""),
                keeper=request.POST.get("keeper", ""),
                institution_confirmed=_checked(request, "institution_confirmed"),
                client_confirmed=_checked(request, "client_confirmed"),
            )
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        except NotFoundField:
            errs, status = [_("找不到所选的批次")], 404
        else:
            messages.success(request, _("封存已记录"))
            return redirect("aftercare:incident", pk=i.pk)
    ctx = {
        "i": i,
        "errs": errs,
        "post": request.POST if request.method == "POST" else {},
        "source": ip.sealing_source(None),
        "now": timezone.localtime(),
    }
    return render(request, "aftercare/incident_seal.html", ctx, status=status)


@login_required
def incident_unseal(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        seal = queries.seal(actor, pk)
    except NotFoundField:
        raise Http404 from None
    require(actor, "aftercare.incident_report", seal.incident)
    status = 200
    errs: list[str] = []
    if request.method == "POST":
        try:
            incidents.record_unseal(
                actor,
                seal.pk,
                unsealed_at=_when(request, "unsealed_at"),
                place=request.POST.get("place", ""),
                purpose=request.POST.get("purpose", ""),
                client_party_name=request.POST.get("client_party_name", ""),
                client_party_relation=request.POST.get("client_party_relation", ""),
                institution_confirmed=_checked(request, "institution_confirmed"),
                client_confirmed=_checked(request, "client_confirmed"),
            )
        except ActionError as exc:
            errs, status = _errors(exc), _status(exc)
        else:
            messages.success(request, _("启封已记录"))
            return redirect("aftercare:incident", pk=seal.incident_id)
    ctx = {
        "seal": seal,
        "i": seal.incident,
        "errs": errs,
        "post": request.POST if request.method == "POST" else {},
        "source": ip.sealing_source(None),
        "now": timezone.localtime(),
    }
    return render(request, "aftercare/incident_unseal.html", ctx, status=status)


@login_required
def incident_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        i = queries.incident(actor, pk)
    except NotFoundField:
        raise Http404 from None
    return attachment(incident_report.render_pdf(actor, i.pk), incident_report.filename(i, "pdf"))


@login_required
def incident_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    try:
        i = queries.incident(actor, pk)
    except NotFoundField:
        raise Http404 from None
    response = HttpResponse(incident_report.render_xlsx(actor, i.pk), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{incident_report.filename(i, "xlsx")}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def reaction_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    """One action from a reaction's page: the incident, prefilled from the reaction."""
    actor = _actor(request)
    try:
        rx = aftercare_queries.reaction(actor, pk)
    except NotFoundField:
        raise Http404 from None
    require(actor, "aftercare.incident_report", rx)
    try:
        inc = incidents.escalate_reaction(actor, rx.pk)
    except ActionError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("aftercare:reaction", pk=rx.pk)
    messages.success(request, _("已登记为不良事件,上报时限自发现起计算"))
    return redirect("aftercare:incident", pk=inc.pk)
