"""Monthly compliance report pages: list, report (charts, figures, warnings, rectifications), downloads, the
association roll-up, and two forms (generate, close a rectification). Thin: parse, call, render.

A report the actor cannot see is a 404; a write they may not do is a 403 with the refusal.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core import permissions as perms
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor
from meiguard.core.params import int_param, param

from . import actions, describe, permissions, policy, queries, reports


def parse_month(raw: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(raw.strip()[:7], "%Y-%m").date() if raw else None
    except ValueError:
        return None


def _require_view(request: HttpRequest) -> None:
    perms.require(_actor(request), "compliance.view")


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    actor = _actor(request)
    institutions = list(queries.institutions(actor)[:200])
    chosen = int_param(request, "institution")
    latest = queries.latest_reports(actor, chosen)
    writable = [i for i in institutions if permissions.can_write(actor, i)]
    last_month = policy.previous_month(timezone.localdate())
    return render(
        request,
        "compliance/index.html",
        {
            "institutions": institutions,
            "chosen": chosen,
            "reports": latest[:120],
            "writable": writable,
            "last_month": f"{last_month:%Y-%m}",
            "can_rollup": perms.can(actor, "compliance.rollup"),
        },
    )


@login_required
def report(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    actor = _actor(request)
    r = queries.report(actor, pk)
    view = describe.build(r)
    return render(
        request,
        "compliance/report.html",
        {"v": view, "r": r, "editable": permissions.can_write(actor, r.institution)},
    )


@login_required
@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    institution_id = int_param_post(request, "institution")
    month = parse_month(request.POST.get("month", ""))
    if institution_id is None or month is None:
        messages.error(request, _("请选择机构和月份(YYYY-MM)"))
        return redirect("compliance:index")
    try:
        new = actions.generate_report(_actor(request), institution_id, month)
    except ActionError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
        return redirect("compliance:index")
    messages.success(request, _("已生成报告(第 %(v)s 版)") % {"v": new.version})
    return redirect("compliance:report", pk=new.pk)


def int_param_post(request: HttpRequest, name: str) -> int | None:
    raw = request.POST.get(name, "").strip()[:12]
    return int(raw) if raw.isascii() and raw.isdigit() else None


@login_required
@require_POST
def close_rectification(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    actor = _actor(request)
    back = int_param_post(request, "report")
    try:
        item = actions.close_rectification(actor, pk, note=request.POST.get("note", "")[:4000])
    except ActionError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
        return redirect("compliance:report", pk=back) if back else redirect("compliance:index")
    messages.success(request, _("整改事项已关闭"))
    return redirect("compliance:report", pk=back or item.report_id)


@login_required
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    r = queries.report(_actor(request), pk)
    return reports.attachment(reports.render_pdf(r), "application/pdf", reports.filename(r, "pdf"))


@login_required
def report_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    r = queries.report(_actor(request), pk)
    return reports.attachment(reports.render_xlsx(r), reports.XLSX, reports.filename(r, "xlsx"))


@login_required
def rollup(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    perms.require(actor, "compliance.rollup")
    month = parse_month(param(request, "month")) or policy.previous_month(timezone.localdate())
    members, figures = queries.rollup(actor, month)
    return render(
        request,
        "compliance/rollup.html",
        {"month": f"{month:%Y-%m}", "members": members, "figures": figures},
    )
