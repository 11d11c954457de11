"""authz pages: the point-of-care check, capabilities, the decision log with replay, the authorization archive.

Thin views: parse, call one query or action, render. Foreign ids are 404s; action errors are form errors.
With htmx the check returns only ``authz/partials/_decision_result.html``; without JS the full page renders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meiguard.core import permissions
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param as _int_param
from meiguard.core.params import param as _param
from meiguard.registry.models import Practitioner
from meiguard.rules.choices import Profession, Subject
from meiguard.workspace.listing import XLSX_TYPE, Column, Listing
from meiguard.workspace.listing import page_or_export as _listed

from . import actions, fixes, matrix, queries
from .choices import AuthorizationKind, AuthorizationStatus, DecisionChannel
from .codec import decode
from .facts import CHINA_TZ, DecisionRequest, Snapshot
from .forms import (
    LOT_ROWS,
    TRANSITIONS,
    AuthorizationForm,
    CheckForm,
    RenewForm,
    TransitionForm,
    apply_error,
    parse_date,
)
from .models import Authorization, DecisionLog
from .policy import Decision, Outcome, Severity
from .reasons import fact_rows, message_for, reason_message

OUTCOMES = (Outcome.ALLOW, Outcome.ALLOW_WITH_WARNINGS, Outcome.DENY)


def scope_text(a: Authorization) -> str:
    """The authorization's scope as plain text (the export's version of ``_authorization_scope.html``)."""
    parts: list[str] = []
    if a.procedure_code:
        parts.append(a.procedure_code)
    if a.procedure_category:
        parts.append(_("类别") + ":" + a.procedure_category)
    if a.subject:
        parts.append(str(dict(Subject.choices).get(a.subject, a.subject)))
    if a.product_brand:
        parts.append(_("品牌") + ":" + a.product_brand)
    if a.device_model:
        parts.append(_("型号") + ":" + a.device_model)
    if a.technology_name:
        parts.append(f"{a.technology_name} ({a.get_technology_kind_display()})")
    if a.max_grade:
        parts.append(_("≤%(g)s级") % {"g": a.max_grade})
    return " · ".join(parts)


def _grantee(a: Authorization) -> str:
    if a.practitioner:
        return a.practitioner.name
    return a.grantee_institution.name if a.grantee_institution else ""


def _outcome_label(row: DecisionLog) -> str:
    return str(outcome_view(row.outcome)["label"])


# Each list's columns, declared once: the page's sortable headers and the Excel export come from them.
AUTHORIZATIONS = Listing(
    "authorizations",
    gettext_lazy("授权档案"),
    (
        Column("id", "#", lambda a: a.pk, order_by=("pk",), width=8),
        Column("kind", gettext_lazy("授权类型"), lambda a: a.get_kind_display(), order_by=("kind",)),
        Column(
            "grantee",
            gettext_lazy("被授权人/机构"),
            _grantee,
            order_by=("practitioner__name", "grantee_institution__name"),
        ),
        Column("scope", gettext_lazy("范围"), scope_text, width=36),
        Column(
            "institution",
            gettext_lazy("机构"),
            lambda a: a.institution.name,
            order_by=("institution__name",),
            width=26,
        ),
        Column("valid_until", gettext_lazy("有效期"), order_by=("valid_until",)),
        Column("status", gettext_lazy("状态"), lambda a: a.get_status_display(), order_by=("status",)),
        Column("valid_from", gettext_lazy("生效日期"), lambda a: a.valid_from, screen=False),
        Column("valid_until_date", gettext_lazy("截止日期"), lambda a: a.valid_until, screen=False),
        Column("grantor", gettext_lazy("授权方"), lambda a: a.grantor, screen=False, width=24),
    ),
)


def _reason_lines(row: Any) -> str:
    """A logged decision's reasons as their messages, one per line (stored reasons are {code, facts, …})."""
    return "\n".join(
        message_for(str(r.get("code", "")), r.get("facts") or {})
        if isinstance(r, dict)
        else message_for(str(r))
        for r in (row.reasons or ())
    )


DECISIONS = Listing(
    "decisions",
    gettext_lazy("核验记录"),
    (
        Column("id", "#", lambda r: r.pk, order_by=("pk",), width=8),
        Column("at", gettext_lazy("核验时点"), lambda r: r.at, order_by=("at",)),
        Column(
            "institution",
            gettext_lazy("机构"),
            lambda r: r.institution.name,
            order_by=("institution__name",),
            width=26,
        ),
        Column(
            "practitioner",
            gettext_lazy("执业人员"),
            lambda r: r.practitioner.name,
            order_by=("practitioner__name",),
        ),
        Column(
            "procedure",
            gettext_lazy("项目"),
            lambda r: r.procedure_code,
            order_by=("procedure_code",),
            width=30,
        ),
        Column("outcome", gettext_lazy("结论"), _outcome_label, order_by=("outcome",)),
        # Readable reasons (the reader's language, facts as names) on screen and in the export; the codes in an
        # export-only column beside them, for filtering and for docs/decision-reasons.md.
        Column("reasons", gettext_lazy("原因"), lambda r: _reason_lines(r), width=60),
        Column(
            "reason_codes",
            gettext_lazy("原因代码"),
            lambda r: list(r.reason_codes or ()),
            screen=False,
            width=36,
        ),
        Column("asked_by", gettext_lazy("请求人"), lambda r: r.actor_label, order_by=("actor_label",)),
        Column("channel", gettext_lazy("渠道"), lambda r: r.get_channel_display(), screen=False, width=10),
        Column("rule_pack", gettext_lazy("规则包版本"), lambda r: r.rule_pack, screen=False, width=20),
    ),
)


# ---- presentation helpers ----------------------------------------------------------------------


def outcome_view(outcome: str) -> dict[str, str]:
    """Colour AND text (and a symbol): never colour alone."""
    if outcome == Outcome.ALLOW:
        return {"value": outcome, "css": "ok", "icon": "✓", "label": _("允许")}
    if outcome == Outcome.ALLOW_WITH_WARNINGS:
        return {"value": outcome, "css": "warn", "icon": "!", "label": _("允许(有警示)")}
    return {"value": outcome, "css": "deny", "icon": "✗", "label": _("不允许")}


def _named(decision: Decision | None, codes: set[str]) -> list[tuple[str, str]]:
    """(code, message) of the reasons of ``decision`` whose code is in ``codes``, by code."""
    if decision is None:
        return []
    return sorted({(r.code, reason_message(r)) for r in decision.reasons if r.code in codes})


def decision_view(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": outcome_view(str(decision.outcome)),
        "reasons": [
            {
                "code": r.code,
                "severity": str(r.severity),
                "css": "deny" if r.severity == Severity.DENY else "warn",
                "severity_label": _("禁止") if r.severity == Severity.DENY else _("警示"),
                "message": reason_message(r),
                "rule": r.rule,
                "facts": r.facts,
                "fact_rows": fact_rows(r.code, r.facts),
            }
            for r in decision.reasons
        ],
    }


# ---- 授权核验 ------------------------------------------------------------------------------------


@login_required
def check(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    result: dict[str, Any] | None = None
    if request.method == "POST":
        form = CheckForm(request.POST, actor=actor)
        if form.is_valid():
            try:
                checked = actions.check(actor, form.to_request(), channel=DecisionChannel.UI)
            except (NotFoundField, ActionError) as exc:
                apply_error(form, exc)
            else:
                proc = checked.snapshot.pack.procedure
                english = (translation.get_language() or "").startswith("en")
                result = decision_view(checked.decision) | {
                    "log": checked.log,
                    "recorded": checked.recorded,
                    "snapshot": checked.snapshot,
                    "procedure_name": proc.name_en if english and proc.name_en else proc.name_zh,
                    "fixes": _fixes(actor, form, checked),
                    "resubmit": [
                        (k, v)
                        for k, values in request.POST.lists()
                        for v in values
                        if k != "csrfmiddlewaretoken"
                    ],
                }
    else:
        form = CheckForm(initial={"institution": _int_param(request, "institution")}, actor=actor)
    ctx = {"form": form, "result": result}
    if request.htmx and request.method == "POST":  # type: ignore[attr-defined]
        return render(request, "authz/partials/_decision_result.html", ctx)
    return render(request, "authz/check.html", ctx)


def _fixes(actor: Any, form: CheckForm, checked: actions.Checked) -> fixes.Fixes | None:
    """What the verdict offers next (only when something is wrong)."""
    if checked.decision.outcome == Outcome.ALLOW:
        return None
    snap = checked.snapshot
    lot_rows = {
        form.cleaned_data[f"lot_{row}"]: row
        for row in range(LOT_ROWS)
        if form.cleaned_data.get(f"lot_{row}") is not None
    }
    named = {
        int(v) for r in checked.decision.reasons for k, v in r.facts if k == "authorization" and v.isdigit()
    }
    writable = frozenset(
        Authorization.objects.writable_by(actor).filter(pk__in=named).values_list("pk", flat=True)
    )
    user_id = Practitioner.objects.filter(pk=snap.practitioner.id).values_list("user_id", flat=True).first()
    found = fixes.fixes_for(
        actor,
        checked.decision,
        snap,
        on=checked.log.at.astimezone(CHINA_TZ).date(),
        lot_rows=lot_rows,
        organization_id=form.chosen.organization_id if form.chosen else 0,
        practitioner_user_id=user_id,
        writable_authorization_ids=writable,
    )
    return found or None


@login_required
def check_fields(request: HttpRequest) -> HttpResponse:
    """The selects that depend on the chosen institution (htmx refresh)."""
    form = CheckForm(initial={"institution": _int_param(request, "institution")}, actor=_actor(request))
    return render(request, "authz/partials/_check_fields.html", {"form": form})


# ---- capabilities ------------------------------------------------------------------------------


@login_required
def practitioner_capabilities(request: HttpRequest, pk: int) -> HttpResponse:
    on = parse_date(_param(request, "on")) or timezone.localdate()
    caps = queries.capabilities(_actor(request), pk, on)  # NotFoundField → 404
    ctx = {"caps": caps, "on": on}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "authz/partials/_capabilities.html", ctx)
    return render(request, "authz/capabilities.html", ctx)


# ---- decision log ------------------------------------------------------------------------------


@login_required
def decision_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    outcome = _param(request, "outcome")
    filters = queries.DecisionFilters(
        institution_id=_int_param(request, "institution"),
        practitioner_id=_int_param(request, "practitioner"),
        procedure_code=_param(request, "procedure"),
        outcome=outcome if outcome in OUTCOMES else "",
        since=parse_date(_param(request, "since")),
        until=parse_date(_param(request, "until")),
    )
    listed = _listed(request, queries.decisions(actor, filters), DECISIONS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "f": request.GET,
        "institutions": queries.institutions(actor),
        "practitioners": queries.visible_practitioners(actor),
        "outcomes": [outcome_view(o) for o in OUTCOMES],
    }
    return render(request, "authz/decision_list.html", ctx)


def _request_view(req: DecisionRequest, snap: Snapshot) -> dict[str, Any]:
    lots = {lot.id: lot for lot in snap.lots}
    devices = {d.id: d for d in snap.devices}
    return {
        "req": req,
        "products": [{"use": use, "lot": lots.get(use.lot_id)} for use in req.products],
        "devices": [{"id": d, "device": devices.get(d)} for d in req.device_ids],
        "supervisor": snap.supervisor,
        "anesthetist": snap.anesthetist,
        "snapshot": snap,
    }


@login_required
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    replay = actions.replay(_actor(request), pk)  # NotFoundField → 404
    row = replay.log
    req = decode(DecisionRequest, row.request)
    snap = decode(Snapshot, row.snapshot.facts())
    recorded = set(replay.recorded.codes())
    current = set(replay.current.codes()) if replay.current is not None else set()
    ctx = {
        "row": row,
        "request_view": _request_view(req, snap),
        "recorded": decision_view(replay.recorded),
        "replayed": decision_view(replay.replayed),
        "current": decision_view(replay.current) if replay.current is not None else None,
        "current_error": replay.current_error,
        "reproducible": replay.reproducible,
        "added_since": _named(replay.current, current - recorded),
        "gone_since": _named(replay.recorded, recorded - current) if replay.current is not None else [],
        "channel": dict(DecisionChannel.choices).get(row.channel, row.channel),
    }
    return render(request, "authz/decision_detail.html", ctx)


# ---- authorization archive ---------------------------------------------------------------------

EXPIRING_CHOICES = (30, 60, 90)


@login_required
def authorization_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    kind = _param(request, "kind")
    status = _param(request, "status")
    expiring = _int_param(request, "expiring")
    filters = queries.AuthorizationFilters(
        institution_id=_int_param(request, "institution"),
        practitioner_id=_int_param(request, "practitioner"),
        kind=kind if kind in AuthorizationKind.values else "",
        status=status if status in AuthorizationStatus.values else "",
        expiring_within=expiring if expiring in EXPIRING_CHOICES else None,
        on=timezone.localdate(),
        q=_param(request, "q"),
    )
    listed = _listed(request, queries.authorizations(actor, filters), AUTHORIZATIONS)
    if isinstance(listed, HttpResponse):
        return listed
    ctx = listed | {
        "f": request.GET,
        "kinds": AuthorizationKind.choices,
        "statuses": AuthorizationStatus.choices,
        "expiring_choices": EXPIRING_CHOICES,
        "institutions": queries.institutions(actor),
        "practitioners": queries.visible_practitioners(actor),
        "can_create": permissions.can(actor, "authz.authorization.create"),
    }
    return render(request, "authz/authorization_list.html", ctx)


def _authorization_page(
    request: HttpRequest,
    pk: int,
    *,
    transition_form: TransitionForm | None = None,
    renew_form: RenewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    auth = queries.authorization(actor, pk)
    can_write = queries.can_write_authorization(actor, auth)
    transitions = [
        (name, label) for name, label in TRANSITIONS.items() if auth.status in actions.ALLOWED[name][0]
    ]
    ctx = {
        "object": auth,
        "can_write": can_write,
        "transitions": transitions if can_write else [],
        "transition_form": transition_form or TransitionForm(),
        "renew_form": renew_form or RenewForm(),
        "can_renew": can_write
        and auth.status in (AuthorizationStatus.ACTIVE, AuthorizationStatus.EXPIRED)
        and auth.valid_until is not None,
        "beyond_institution": [reason_message(r) for r in actions.shown_scope_reasons(auth)]
        if auth.status
        in (AuthorizationStatus.DRAFT, AuthorizationStatus.ACTIVE, AuthorizationStatus.SUSPENDED)
        else [],
        "history": queries.authorization_history(actor, auth.pk),
        "renewals": queries.renewals(actor, auth),
    }
    return render(request, "authz/authorization_detail.html", ctx, status=status)


@login_required
def authorization_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _authorization_page(request, pk)


def _writable_or_403(request: HttpRequest, pk: int) -> None:
    actor = _actor(request)
    auth = queries.authorization(actor, pk)  # 404 if not visible
    if not queries.can_write_authorization(actor, auth):
        raise PermissionDenied(_("您没有管理该授权的权限"))


@login_required
@require_POST
def authorization_transition(request: HttpRequest, pk: int) -> HttpResponse:
    _writable_or_403(request, pk)
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            actions.change_status(
                _actor(request), pk, action=form.cleaned_data["action"], reason=form.cleaned_data["reason"]
            )
        except ActionError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("授权状态已更新"))
            return redirect("authz:authorization_detail", pk=pk)
    return _authorization_page(request, pk, transition_form=form)


@login_required
@require_POST
def authorization_renew(request: HttpRequest, pk: int) -> HttpResponse:
    _writable_or_403(request, pk)
    form = RenewForm(request.POST)
    if form.is_valid():
        try:
            new = actions.renew_authorization(
                _actor(request),
                pk,
                valid_until=form.cleaned_data["valid_until"],
                reason=form.cleaned_data["reason"],
            )
        except ActionError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("已生成续期草稿,请核对后生效"))
            return redirect("authz:authorization_detail", pk=new.pk)
    return _authorization_page(request, pk, renew_form=form)


@login_required
def authorization_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    permissions.require(actor, "authz.authorization.create")
    initial: dict[str, Any] = {"valid_from": timezone.localdate()}
    for name in ("institution", "practitioner"):
        value = _int_param(request, name)
        if value:
            initial[name] = value
    form = AuthorizationForm(request.POST or None, initial=initial, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            auth = actions.create_authorization(actor, **form.action_kwargs())
        except (NotFoundField, ActionError) as exc:
            apply_error(form, exc)
        else:
            if actions.shown_scope_reasons(auth):
                messages.warning(request, _("授权已保存为草稿;机构不能开展其范围内的项目,不能生效(原因见下)"))
            else:
                messages.success(request, _("授权已保存"))
            return redirect("authz:authorization_detail", pk=auth.pk)
    return render(request, "authz/authorization_form.html", {"form": form})


# ---- privilege matrix --------------------------------------------------------------------------

MATRIX_GRADES = (0, 1, 2, 3, 4)


def _matrix_filters(request: HttpRequest) -> matrix.Filters:
    subject = _param(request, "subject")
    profession = _param(request, "profession")
    outcome = _param(request, "outcome")
    grade = _int_param(request, "grade")
    if _param(request, "grade") == "0":
        grade = 0
    return matrix.Filters(
        subject=subject if subject in Subject.values else "",
        grade=grade if grade in MATRIX_GRADES else None,
        profession=profession if profession in Profession.values else "",
        outcome=outcome if outcome in OUTCOMES else "",
    )


def _procedure_label(proc: Any) -> str:
    english = (translation.get_language() or "").startswith("en")
    return proc.name_en if english and proc.name_en else proc.name_zh


def _cell_title(decision: Decision) -> str:
    """The cell's hover text: the verdict and its main reason (all reasons and their sources are one tap away)."""
    label = str(outcome_view(str(decision.outcome))["label"])
    reasons = decision.reasons
    if not reasons:
        return label
    main = next((r for r in reasons if r.severity == Severity.DENY), reasons[0])
    text = f"{label}:{reason_message(main)}"
    if len(reasons) > 1:
        text += _("(另有 %(n)s 项原因)") % {"n": len(reasons) - 1}
    return text


def _matrix_rows(m: matrix.Matrix, cell_url: str) -> list[dict[str, Any]]:
    """Each person's row with its cells already rendered (15,000 cells through the template language take
    seconds; one format per cell does not)."""
    procs = m.procedures
    views = {o: outcome_view(o) for o in OUTCOMES}
    professions = dict(Profession.choices)
    titles: dict[Decision, str] = {}
    rows = []
    for person in m.people:
        base = f"{cell_url}&practitioner={person.facts.id}&procedure="
        cells = []
        for p in procs:
            d = m.decision(person.facts.id, p.code)
            v = views[d.outcome]
            title = titles.get(d)
            if title is None:
                title = titles[d] = _cell_title(d)
            cells.append(
                format_html(
                    '<td class="matrix-cell {}" data-procedure="{}"><a href="{}{}" title="{}">{}'
                    '<span class="sr-only">{}</span></a></td>',
                    v["css"],
                    p.code,
                    base,
                    p.code,
                    title,
                    v["icon"],
                    v["label"],
                )
            )
        rows.append(
            {
                "person": person,
                "profession": professions.get(person.facts.profession, ""),
                "cells": mark_safe("".join(cells)),
            }
        )
    return rows


def _matrix_export(m: matrix.Matrix, who: str, filters: list[tuple[str, str]]) -> HttpResponse:
    """The matrix as Excel through the listing machinery: one row per person, one column per procedure."""

    def verdict(code: str) -> Any:
        def value(person: matrix.Person) -> str:
            d = m.decision(person.facts.id, code)
            label = str(outcome_view(str(d.outcome))["label"])
            return "\n".join([label, *(reason_message(r) for r in d.reasons)])

        return value

    profession = dict(Profession.choices)
    columns = [
        Column("name", gettext_lazy("姓名"), lambda x: x.facts.name, width=12),
        Column(
            "profession",
            gettext_lazy("职业"),
            lambda x: str(profession.get(x.facts.profession, "")),
            width=10,
        ),
        *(
            Column(p.code, f"{_procedure_label(p)} ({p.code})", verdict(p.code), width=28)
            for p in m.procedures
        ),
    ]
    listing = Listing("privilege-matrix", gettext_lazy("执业权限矩阵"), tuple(columns))
    data, _rows, _cut = listing.workbook_bytes(m.people, who=who, filters=filters)  # type: ignore[arg-type]
    response = HttpResponse(data, content_type=XLSX_TYPE)
    name = f"privilege-matrix-{m.institution.pk}-{m.on:%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def privilege_matrix(request: HttpRequest) -> HttpResponse:
    """People × procedures of one institution, each cell the engine's answer (nothing logged)."""
    actor = _actor(request)
    institutions = list(queries.institutions(actor))
    chosen = _int_param(request, "institution")
    if chosen is None and len(institutions) == 1:
        chosen = institutions[0].pk
    on = parse_date(_param(request, "on")) or timezone.localdate()
    filters = _matrix_filters(request)
    ctx: dict[str, Any] = {
        "f": request.GET,
        "institutions": institutions,
        "chosen": chosen,
        "on": on,
        "subjects": Subject.choices,
        "grades": [(g, _("非手术/未定级") if g == 0 else _("%(g)s级") % {"g": g}) for g in MATRIX_GRADES],
        "professions": Profession.choices,
        "outcomes": [outcome_view(o) for o in OUTCOMES],
        "matrix": None,
        "error": "",
    }
    if chosen is None:
        return render(request, "authz/matrix.html", ctx)
    show_all = _param(request, "all") == "1"
    try:
        # A large grid opens on one subject, unless asked for everything (NotFoundField → 404).
        m = matrix.compute(actor, chosen, on, filters, narrow_if_large=not show_all)
    except ActionError as exc:  # no rule pack in force that day
        ctx["error"] = str(exc.message)
        return render(request, "authz/matrix.html", ctx)
    shown_params = request.GET.copy()
    if m.defaulted_subject:
        shown_params["subject"] = m.defaulted_subject  # the form and the export follow what is shown
        ctx["f"] = shown_params
        everything = shown_params.copy()
        everything.pop("subject", None)
        everything["all"] = "1"
        ctx["defaulted"] = {
            "subject": dict(Subject.choices).get(m.defaulted_subject, m.defaulted_subject),
            "people": m.full_people,
            "procedures": m.full_procedures,
            "cells": m.full_people * m.full_procedures,
            "all_url": "?" + everything.urlencode(),
        }
    if _param(request, "format") == "xlsx":
        shown = [(k, v) for k, values in shown_params.lists() if k != "format" for v in values if v]
        return _matrix_export(m, str(request.user), shown)
    export = shown_params.copy()
    export["format"] = "xlsx"
    cell_url = (
        reverse("authz:privilege_cell")
        + "?"
        + urlencode({"institution": m.institution.pk, "on": m.on.isoformat()})
    )
    ctx |= {
        "matrix": m,
        "rows": _matrix_rows(m, cell_url),
        "groups": [
            {
                "subject": dict(Subject.choices).get(g.subject, g.subject),
                "grade": g.grade,
                "procedures": [{"code": p.code, "name": _procedure_label(p)} for p in g.procedures],
            }
            for g in m.groups
        ],
        "counts": m.counts(),
        "export_url": "?" + export.urlencode(),
    }
    return render(request, "authz/matrix.html", ctx)


@login_required
def privilege_cell(request: HttpRequest) -> HttpResponse:
    """One cell's reasons with their sources (the tap target): decided afresh by the engine, not logged."""
    actor = _actor(request)
    inst, person = _int_param(request, "institution"), _int_param(request, "practitioner")
    code = _param(request, "procedure")
    on = parse_date(_param(request, "on")) or timezone.localdate()
    if inst is None or person is None or not code:
        raise NotFoundField("practitioner")
    try:
        cell = matrix.cell(actor, inst, person, code, on)
    except FieldErrors as exc:  # an unknown procedure code
        raise NotFoundField("procedure") from exc
    proc = cell.snapshot.pack.procedure
    english = (translation.get_language() or "").startswith("en")
    ctx = {
        "cell": cell,
        "view": decision_view(cell.decision),
        "on": on,
        "procedure_name": proc.name_en if english and proc.name_en else proc.name_zh,
    }
    return render(request, "authz/partials/_matrix_cell.html", ctx)
