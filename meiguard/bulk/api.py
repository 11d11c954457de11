"""Bulk import/export over HTTP (mounted at /api/v1/bulk).

Files travel as multipart uploads and .xlsx downloads. A file that cannot be read in the chosen format is
a 400 whose ``errors[]`` lists every problem; row errors are part of the run report (a dry run answers
200 with them, a failed apply 422 with them, nothing written).
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate

from meiguard.core.apierrors import NotFoundField, error_body
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorItemOut, ErrorOut, FilterIn

from . import actions, exporters, queries
from .choices import RunStatus
from .models import ImportRun
from .views import xlsx_response
from .workbook import FileRejected

router = Router(tags=["bulk"])

Kind = Literal["practitioners", "qualifications", "authorizations", "full"]


class RowErrorOut(Schema):
    sheet: str
    row: int
    column: str
    cell: str
    message: str


class ChangeOut(Schema):
    sheet: str
    row: int
    action: str
    label: str
    columns: list[str]


class ImportRunOut(Schema):
    id: int
    kind: str
    mode: str
    status: str
    ok: bool
    file_name: str
    sha256: str
    size: int
    created_by: str
    created_at: dt.datetime
    source_id: int | None
    applied_at: dt.datetime | None
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    errors: list[RowErrorOut]
    changes: list[ChangeOut]

    @staticmethod
    def of(run: ImportRun, *, rows: bool = True) -> "ImportRunOut":
        return ImportRunOut(
            id=run.pk,
            kind=run.kind,
            mode=run.mode,
            status=run.status,
            ok=run.ok,
            file_name=run.file_name,
            sha256=run.sha256,
            size=run.size,
            created_by=run.actor_label,
            created_at=run.created_at,
            source_id=run.source_id,
            applied_at=run.applied_at,
            counts=run.counts,
            totals=run.totals(),
            errors=[RowErrorOut(**e) for e in run.errors] if rows else [],
            changes=[ChangeOut(**c) for c in run.changes] if rows else [],
        )


class CellErrorOut(ErrorItemOut):
    """An itemised import error: where it is, besides ``field`` (``执业人员!A3``)."""

    sheet: str
    row: int
    column: str
    cell: str


class ImportFailedOut(ErrorOut):
    errors: list[CellErrorOut] = []  # type: ignore[assignment]
    run: ImportRunOut


class RunSummaryOut(Schema):
    id: int
    kind: str
    mode: str
    status: str
    file_name: str
    sha256: str
    created_by: str
    created_at: dt.datetime
    totals: dict[str, int]

    @staticmethod
    def resolve_created_by(obj: ImportRun) -> str:
        return obj.actor_label

    @staticmethod
    def resolve_totals(obj: ImportRun) -> dict[str, int]:
        return obj.totals()


def _rejected(exc: FileRejected) -> tuple[int, dict[str, Any]]:
    problems = [{"field": "file", "code": "invalid_file", "message": p} for p in exc.problems]
    return 400, error_body(exc.code, str(exc.message), "file", problems)  # type: ignore[arg-type]


def _failed(run: ImportRun) -> tuple[int, dict[str, Any]]:
    errors = [{"field": f"{e['sheet']}!{e['cell']}", "code": "invalid", **e} for e in run.errors]
    message = _("导入失败:%(n)s 处错误,未写入任何数据") % {"n": len(run.errors)}
    body = error_body("IMPORT_FAILED", message, None, errors)  # type: ignore[arg-type]
    return 422, {**body, "run": ImportRunOut.of(run)}


@router.get("/templates/{kind}", summary="下载导入模板 / Template (.xlsx)")
def template(request: HttpRequest, kind: Kind) -> HttpResponse:
    """An empty workbook: header row, drop-downs, “填写说明” and the institutions you may import into."""
    return xlsx_response(exporters.template(request.actor, kind), f"meiguard-{kind}-template.xlsx")  # type: ignore[attr-defined]


class ExportFilter(FilterIn):
    institution_id: int | None = None


@router.get("/exports/{kind}", response={200: None, 404: ErrorOut}, summary="导出 / Export (.xlsx)")
def export(request: HttpRequest, kind: Kind, filters: Query[ExportFilter]) -> HttpResponse:
    """What you can see, in the import format (re-importable); ID numbers masked unless you manage the person."""
    actor = request.actor  # type: ignore[attr-defined]
    inst = filters.institution_id
    if inst is not None and not queries.exportable_institutions(actor).filter(pk=inst).exists():
        raise NotFoundField("institution_id")
    content = exporters.export(actor, kind, institution_id=inst)
    return xlsx_response(content, f"meiguard-{kind}-export-{timezone.localdate():%Y%m%d}.xlsx")


@router.post(
    "/imports/dry-run",
    response={200: ImportRunOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
    summary="试运行 / Dry run",
)
def dry_run(request: HttpRequest, kind: Form[Kind], file: File[UploadedFile]) -> Any:
    """Check every row; report every error (sheet, row, column, message) or what would change. Writes nothing
    but the run record; apply it with ``POST /imports/{id}/apply``."""
    try:
        run = actions.dry_run(request.actor, kind=kind, file_name=file.name or "", content=file.read())  # type: ignore[attr-defined]
    except FileRejected as exc:
        return _rejected(exc)
    return ImportRunOut.of(run)


@router.post(
    "/imports",
    response={201: ImportRunOut, 400: ErrorOut, 401: ErrorOut, 422: ImportFailedOut | ErrorOut},
    summary="导入(校验并写入)/ Import",
)
def import_file(request: HttpRequest, kind: Form[Kind], file: File[UploadedFile]) -> Any:
    """Check and write in one step: every row, or none when any row has an error (422 listing them all)."""
    try:
        run = actions.import_file(request.actor, kind=kind, file_name=file.name or "", content=file.read())  # type: ignore[attr-defined]
    except FileRejected as exc:
        return _rejected(exc)
    if run.status != RunStatus.APPLIED:
        return _failed(run)
    return 201, ImportRunOut.of(run)


@router.post(
    "/imports/{run_id}/apply",
    response={201: ImportRunOut, 404: ErrorOut, 409: ErrorOut, 422: ImportFailedOut | ErrorOut},
    summary="应用试运行 / Apply a dry run",
)
def apply(request: HttpRequest, run_id: int) -> Any:
    """Write the file of your own error-free dry run (once, within 24 hours); every row is checked again."""
    run = actions.apply(request.actor, run_id)  # type: ignore[attr-defined]
    if run.status != RunStatus.APPLIED:
        return _failed(run)
    return 201, ImportRunOut.of(run)


@router.get("/imports", response=list[RunSummaryOut], summary="导入记录 / Import runs")
@paginate(Pagination)
def list_runs(request: HttpRequest) -> Any:
    return queries.runs(request.actor)  # type: ignore[attr-defined]


@router.get("/imports/{run_id}", response={200: ImportRunOut, 404: ErrorOut}, summary="导入记录详情")
def get_run(request: HttpRequest, run_id: int) -> ImportRunOut:
    """Rows (errors, preview) only for the uploader; others who can see the run get its counts."""
    actor = request.actor  # type: ignore[attr-defined]
    run = queries.run(actor, run_id)
    return ImportRunOut.of(run, rows=queries.can_see_rows(actor, run))
