"""Rule-pack pages: packs and versions, a version's rules and procedure catalog, version diff, impact report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from meiguard.core.params import actor

from . import impact, queries, services
from .choices import Jurisdiction
from .forms import DiffForm, ProcedureFilterForm

IMPACT_PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
def pack_list(request: HttpRequest) -> HttpResponse:
    return render(request, "rules/pack_list.html", {"packs": queries.packs_with_versions()})


@login_required
def version_detail(request: HttpRequest, code: str, version: int) -> HttpResponse:
    v = queries.get_version(code, version, actor(request))
    form = ProcedureFilterForm(request.GET or None)
    error = None
    try:
        procedures = queries.version_procedures(v, form.to_filter())
    except services.NoActivePack as exc:
        procedures, error = [], exc.message
    ctx = {"version": v, "pack": v.pack, "form": form, "procedures": procedures, "error": error}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "rules/partials/_procedure_table.html", ctx)
    overlay = v.pack.jurisdiction == Jurisdiction.PROVINCIAL
    ctx["rules"] = queries.version_rules(v, include_procedures=overlay)
    ctx["can_view_impact"] = impact.may_view(actor(request))  # type: ignore[attr-defined]
    return render(request, "rules/version_detail.html", ctx)


@login_required
def version_diff(request: HttpRequest, code: str) -> HttpResponse:
    pack = queries.get_pack(code, actor(request))
    versions = list(pack.versions.order_by("-version"))
    form = DiffForm(request.GET or None, versions=versions)
    diff = None
    if form.is_bound and form.is_valid():
        diff = services.diff_versions(
            queries.get_version(code, form.cleaned_data["a"], actor(request)),
            queries.get_version(code, form.cleaned_data["b"], actor(request)),
        )
    return render(
        request, "rules/version_diff.html", {"pack": pack, "form": form, "diff": diff, "versions": versions}
    )


# ---- rule-change impact (规则变更影响评估) --------------------------------------------------------


def _impact_params(request: HttpRequest) -> dict[str, Any]:
    """on (default today), institution, direction; bad values are ignored (the page shows the default)."""
    raw_on = request.GET.get("on", "").strip()[:10]
    try:
        on = dt.date.fromisoformat(raw_on) if raw_on else None
    except ValueError:
        on = None
    raw_inst = request.GET.get("institution", "").strip()
    direction = request.GET.get("direction", "").strip()
    return {
        "on": on or timezone.localdate(),
        "institution_id": int(raw_inst) if raw_inst.isdigit() and len(raw_inst) < 12 else None,
        "direction": direction if direction in impact.Direction.values else "",
        "refresh": request.GET.get("refresh") == "1",
    }


def _impact_report(request: HttpRequest, pk: int, params: dict[str, Any]) -> tuple[Any, impact.ImpactReport]:
    org_ids = impact.viewer_org_ids(actor(request))  # type: ignore[attr-defined]  # 403 for other roles
    version = impact.get_version(pk, actor(request))  # 404
    report = impact.report_for(version, on=params["on"], refresh=params["refresh"]).restricted_to(org_ids)
    return version, report


def _outcome_view(outcome: str) -> dict[str, str]:
    css, icon = {"allow": ("ok", "✓"), "allow_with_warnings": ("warn", "!")}.get(outcome, ("deny", "✗"))
    return {"css": css, "icon": icon, "label": impact.outcome_label(outcome)}


def _reason_view(reason: Any) -> dict[str, Any]:
    return {
        "code": reason.code,
        "severity": str(reason.severity),
        "message": impact.reason_text(reason),
        "rule": reason.rule,
    }


def _row_view(row: impact.ImpactRow) -> dict[str, Any]:
    return {
        "row": row,
        "before": _outcome_view(row.before),
        "after": _outcome_view(row.after),
        "direction": impact.direction_label(row.direction),
        "sources": impact.source_labels(row.sources),
        "added": [_reason_view(r) for r in row.added],
        "removed": [_reason_view(r) for r in row.removed],
    }


@login_required
def version_impact(request: HttpRequest, pk: int) -> HttpResponse:
    params = _impact_params(request)
    version, report = _impact_report(request, pk, params)
    rows = report.select(institution_id=params["institution_id"], direction=params["direction"])
    page = Paginator(rows, IMPACT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    for name in ("page", "refresh"):
        query.pop(name, None)
    query["on"] = params["on"].isoformat()
    ctx = {
        "version": version,
        "report": report,
        "params": params,
        "page": page,
        "row_views": [_row_view(r) for r in page],
        "querystring": query.urlencode(),
        "directions": impact.Direction.choices,
        "totals": report.totals(),
        "status": impact.status_label(version.status),
        "summary": [
            {"inst": i, "counts": [i.count(d) for d in impact.Direction.values]}
            for i in report.changed_institutions()
        ],
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "rules/impact_rows.html", ctx)
    return render(request, "rules/impact.html", ctx)


@login_required
def version_impact_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    params = _impact_params(request)
    _version, report = _impact_report(request, pk, params)
    rows = report.select(institution_id=params["institution_id"], direction=params["direction"])
    response = HttpResponse(impact.workbook(report, rows), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{impact.xlsx_filename(report)}"'
    return response


# ---- the institution layer (本机构规范) ---------------------------------------------------------------


def _policy_institutions(request: HttpRequest) -> list[Any]:
    from meiguard.registry.models import Institution

    return list(Institution.objects.visible_to(actor(request)).order_by("name")[:200])  # type: ignore[attr-defined]


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    """Which institution's policy to open (straight to it when the user sees only one)."""
    places = _policy_institutions(request)
    if len(places) == 1:
        return redirect("rules:policy", institution_id=places[0].pk)
    rows = []
    today = timezone.localdate()
    for inst in places:
        try:
            label = services.resolve(inst.province, today, inst.pk).version_label
        except services.NoActivePack as exc:
            label = str(exc.message)
        rows.append({"institution": inst, "in_force": label})
    return render(request, "rules/policy_list.html", {"rows": rows})


@login_required
def policy(request: HttpRequest, institution_id: int) -> HttpResponse:
    """The institution's policy: values in force, the national values it may only tighten, drafts, versions."""
    from meiguard.core.errors import ActionError
    from meiguard.registry.models import Institution

    from . import institution as inst_policy
    from .forms import PolicyForm, PolicyPublishForm

    inst = Institution.objects.visible_to(actor(request)).filter(pk=institution_id).first()  # type: ignore[attr-defined]
    if inst is None:
        raise Http404("institution")
    today = timezone.localdate()
    try:
        pack = services.resolve(inst.province, today, inst.pk)
        base = inst_policy.base_pack(inst.province, today)
    except services.NoActivePack as exc:
        return render(request, "rules/policy.html", {"institution": inst, "error": exc.message})
    rows = inst_policy.setting_rows(pack, base)
    current = {row.setting.key: row.value for row in rows}
    can_edit = inst_policy.can_edit(actor(request), inst)  # type: ignore[arg-type]
    versions = inst_policy.versions(inst.pk)
    draft = next((v for v in versions if not v.is_published), None)
    form = PolicyForm(current=current)
    publish_form = PolicyPublishForm(
        initial={"version": draft.version if draft else None, "effective_from": today}
    )
    error = ""
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("只有本机构的机构管理员或授权专员可以修改本机构规范"))
        try:
            if request.POST.get("action") == "publish":
                publish_form = PolicyPublishForm(request.POST)
                if publish_form.is_valid():
                    inst_policy.publish(
                        actor(request),  # type: ignore[arg-type]
                        inst.pk,
                        publish_form.cleaned_data["version"],
                        effective_from=publish_form.cleaned_data["effective_from"],
                    )
                    return redirect("rules:policy", institution_id=inst.pk)
            else:
                form = PolicyForm(request.POST, current=current)
                if form.is_valid():
                    changed = form.changed_values()
                    inst_policy.save_draft(
                        actor(request),  # type: ignore[arg-type]
                        inst.pk,
                        values=changed,
                        document=form.cleaned_data["document"],
                        effective_from=form.cleaned_data["effective_from"],
                    )
                    return redirect("rules:policy", institution_id=inst.pk)
        except ActionError as exc:
            error = str(exc.message)
    previous = {v.version: v for v in versions}
    return render(
        request,
        "rules/policy.html",
        {
            "institution": inst,
            "pack": pack,
            "rows": rows,
            "form": form,
            "publish_form": publish_form,
            "can_edit": can_edit,
            "versions": [(v, previous.get(v.version - 1)) for v in versions],
            "draft": draft,
            "error": error,
            "can_view_impact": impact.may_view(actor(request)),  # type: ignore[arg-type]
        },
    )


@login_required
def sources(request: HttpRequest) -> HttpResponse:
    """The sources register: every document the shared rule packs cite, with the rules that cite it."""
    from .models import Rule, RulePackVersion
    from .sources import register

    newest: dict[int, RulePackVersion] = {}
    for v in (
        RulePackVersion.objects.published().filter(pack__institution_pk__isnull=True).select_related("pack")
    ):
        if v.pack_id not in newest or v.version > newest[v.pack_id].version:
            newest[v.pack_id] = v
    citing: dict[str, list[tuple[RulePackVersion, Rule]]] = {}
    rules = Rule.objects.filter(version__in=list(newest.values())).order_by("version_id", "position")
    by_pk = {v.pk: v for v in newest.values()}
    for rule in rules.only("rule_id", "title", "title_en", "citations", "version_id"):
        for c in rule.citations or ():
            citing.setdefault(c.get("doc", ""), []).append((by_pk[rule.version_id], rule))
    rows = [{"doc": doc, "rules": citing.get(doc.id, [])} for doc in register().values()]
    return render(request, "rules/sources.html", {"rows": rows})
