"""Bulk pages: the hub (templates, upload for a dry run, export, recent runs) and a run's report.

Thin views: parse, call one action or query, render. A rejected file (not .xlsx, wrong columns…) is shown
on the hub with every reason; a run's page shows every row error in a table, or the preview of changes
and the button that applies the stored upload.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meiguard.core import permissions
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.core.params import actor as _actor

from . import actions, exporters, queries
from .choices import ImportKind, RunMode, RunStatus
from .forms import ExportForm, UploadForm
from .models import ImportRun
from .workbook import MAX_ROWS, XLSX_MIME, FileRejected

PAGE_SIZE = 100
RECENT_RUNS = 20


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_MIME)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # exports may hold ID numbers
    return response


def _hub(
    request: HttpRequest,
    *,
    upload: UploadForm | None = None,
    export: ExportForm | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    ctx = {
        "kinds": ImportKind.choices,
        "can_import": permissions.can(actor, "bulk.import"),
        "upload": upload or UploadForm(initial={"kind": request.GET.get("kind") or ImportKind.FULL}),
        "export": export or ExportForm(actor=actor),
        "problems": problems or [],
        "runs": queries.runs(actor)[:RECENT_RUNS],
        "max_size": actions.file_size(actions.MAX_UPLOAD_BYTES),
        "max_rows": MAX_ROWS,
    }
    return render(request, "bulk/index.html", ctx, status=status)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return _hub(request)


@login_required
def template(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ImportKind.values:
        raise Http404("unknown kind")
    return xlsx_response(exporters.template(_actor(request), kind), f"meiguard-{kind}-template.xlsx")


@login_required
def export(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = ExportForm(request.GET, actor=actor)
    if not form.is_valid():
        return _hub(request, export=form, status=400)
    kind = form.cleaned_data["kind"]
    content = exporters.export(actor, kind, institution_id=form.cleaned_data["institution"])
    stamp = timezone.localdate().strftime("%Y%m%d")
    return xlsx_response(content, f"meiguard-{kind}-export-{stamp}.xlsx")


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """Dry run of an upload: nothing is written; the run's page lists every error or the preview."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _hub(request, upload=form, status=400)
    file = form.cleaned_data["file"]
    if file.size > actions.MAX_UPLOAD_BYTES:
        return _hub(request, upload=form, problems=[actions.too_large(file.size)], status=400)
    try:
        run = actions.dry_run(
            _actor(request), kind=form.cleaned_data["kind"], file_name=file.name, content=file.read()
        )
    except FileRejected as exc:
        return _hub(request, upload=form, problems=exc.problems, status=400)
    except ActionError as exc:
        return _hub(request, upload=form, problems=[str(exc.message)], status=400)
    return redirect("bulk:run", pk=run.pk)


def _can_apply(actor: Actor, run: ImportRun) -> bool:
    return (
        run.mode == RunMode.DRY_RUN
        and run.status == RunStatus.VALID
        and run.applied_at is None
        and bool(run.content)
        and run.created_by_id is not None
        and run.created_by_id == actor.user_id
        and run.created_at >= timezone.now() - actions.APPLY_WITHIN
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    run = queries.run(actor, pk)  # 404 unless the uploader or a member of an institution it wrote to
    rows_visible = queries.can_see_rows(actor, run)
    changes = [c for c in run.changes if c["action"] != "unchanged"] if rows_visible else []
    ctx: dict[str, Any] = {
        "run": run,
        "rows_visible": rows_visible,
        "errors": run.errors if rows_visible else [],
        "changes": Paginator(changes, PAGE_SIZE).get_page(request.GET.get("page")),
        "totals": run.totals(),
        "can_apply": _can_apply(actor, run),
        "applied_by": run.applications.filter(status=RunStatus.APPLIED).first()
        if run.mode == RunMode.DRY_RUN
        else None,
        "institutions": list(run.institutions.order_by("name")),
    }
    return render(request, "bulk/run_detail.html", ctx)


@login_required
@require_POST
def run_apply(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        run = actions.apply(_actor(request), pk)  # 404 unless the actor's own dry run
    except FileRejected as exc:  # pragma: no cover - the stored file was accepted by its dry run
        messages.error(request, exc.problems[0])
        return redirect("bulk:run", pk=pk)
    except ActionError as exc:
        messages.error(request, str(exc.message))
        return redirect("bulk:run", pk=pk)
    if run.status == RunStatus.APPLIED:
        messages.success(request, _("导入完成,已写入全部数据"))
    else:
        messages.error(request, _("导入失败:数据在试运行后发生了变化,出现了错误,未写入任何数据"))
    return redirect("bulk:run", pk=run.pk)
