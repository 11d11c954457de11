"""Rule-pack pages: packs and versions, a version's rules and procedure catalog, version diff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import queries, services
from .choices import Jurisdiction
from .forms import DiffForm, ProcedureFilterForm


@login_required
def pack_list(request: HttpRequest) -> HttpResponse:
    return render(request, "rules/pack_list.html", {"packs": queries.packs_with_versions()})


@login_required
def version_detail(request: HttpRequest, code: str, version: int) -> HttpResponse:
    v = queries.get_version(code, version)
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
    return render(request, "rules/version_detail.html", ctx)


@login_required
def version_diff(request: HttpRequest, code: str) -> HttpResponse:
    pack = queries.get_pack(code)
    versions = list(pack.versions.order_by("-version"))
    form = DiffForm(request.GET or None, versions=versions)
    diff = None
    if form.is_bound and form.is_valid():
        diff = services.diff_versions(
            queries.get_version(code, form.cleaned_data["a"]),
            queries.get_version(code, form.cleaned_data["b"]),
        )
    return render(
        request, "rules/version_diff.html", {"pack": pack, "form": form, "diff": diff, "versions": versions}
    )
