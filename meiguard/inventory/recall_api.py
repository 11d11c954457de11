"""Recalls over HTTP (part of the inventory router, /api/v1/inventory/recalls…): strict bodies, the one error
envelope, bad lot numbers reported one by one (``lot_nos[i]``). Client contacts only for the compliance
officers and 医务科 of the institution (an empty list for anyone else)."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Schema
from ninja.pagination import paginate

from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, In
from meiguard.reviews.reports import XLSX, attachment

from . import recall, recall_report
from .actions import _plain
from .api import ERRORS, Id, InstitutionFilter, Quantity, _actor, router
from .choices import MAX_RECALL_LOTS, RecallDisposal, RecallSource
from .models import RecallLot, RecallNotice

LotNo = Field(..., min_length=1, max_length=40)


class RecallLotOut(Schema):
    id: int
    institution_id: int
    institution: str
    lot_id: int
    lot_no: str
    quarantine_id: int | None
    quarantined: str
    returned: str
    destroyed: str
    in_quarantine: str
    clients: int
    completed_at: dt.datetime | None


class RecallSummaryOut(Schema):
    id: int
    institution_id: int | None
    product_id: int
    product: str
    lot_nos: list[str]
    all_lots: bool
    level: int
    source: str
    reference_no: str
    reason: str
    issued_on: dt.date | None
    received_at: dt.datetime
    due_on: dt.date
    clock: str


class RecallOut(RecallSummaryOut):
    lots: list[RecallLotOut]


class RecallIn(In):
    institution_id: int | None = Field(
        None, ge=1, le=2**53, description="空:所有持有该批号的机构(平台管理员)"
    )
    product_id: int = Id
    lot_nos: list[str] = Field(default_factory=list, max_length=MAX_RECALL_LOTS)
    all_lots: bool = False
    level: Literal[1, 2, 3]
    source: RecallSource
    reason: str = Field(..., min_length=1, max_length=500)
    reference_no: str = Field("", max_length=64)
    issued_on: dt.date | None = Field(None, ge=dt.date(2000, 1, 1), le=dt.date(2100, 1, 1))
    received_at: dt.datetime | None = None


class LotRecallIn(In):
    level: Literal[1, 2, 3]
    reason: str = Field(..., min_length=1, max_length=500)
    reference_no: str = Field("", max_length=64)


class RecallDisposeIn(In):
    disposal: RecallDisposal
    quantity: Decimal = Quantity
    reason: str = Field(..., min_length=1, max_length=500)


class RecallCompleteIn(In):
    institution_id: int = Id
    note: str = Field("", max_length=500)


class RecallClientOut(Schema):
    institution_id: int
    client_id: int
    name: str
    phone: str
    lot_no: str
    case_code: str
    used_at: dt.datetime


class RecallFilter(InstitutionFilter):
    pass


def _summary(n: RecallNotice, clock: str) -> dict[str, Any]:
    return {
        "id": n.pk,
        "institution_id": n.institution_id,
        "product_id": n.product_id,
        "product": n.product.brand_name or n.product.generic_name,
        "lot_nos": n.lot_nos,
        "all_lots": n.all_lots,
        "level": n.level,
        "source": n.source,
        "reference_no": n.reference_no,
        "reason": n.reason,
        "issued_on": n.issued_on,
        "received_at": n.received_at,
        "due_on": n.due_on,
        "clock": clock,
    }


def _lot_out(r: RecallLot, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": r.pk,
        "institution_id": r.institution_id,
        "institution": r.institution.name,
        "lot_id": r.lot_id,
        "lot_no": r.lot.lot_no,
        "quarantine_id": r.quarantine_id,
        "quarantined": _plain(r.quarantined),
        "returned": _plain(r.returned),
        "destroyed": _plain(r.destroyed),
        "in_quarantine": _plain(r.in_quarantine),
        "clients": counts.get(r.lot_id, 0),
        "completed_at": r.completed_at,
    }


def _detail(request: HttpRequest, notice_id: int) -> dict[str, Any]:
    actor = _actor(request)
    n = recall.notice(actor, notice_id)
    rows = recall.recall_lots(actor, n)
    parts = recall.parts(n, rows)
    counts = recall.client_counts(r.lot_id for r in rows)
    out = _summary(n, recall.overall_state(n, parts, timezone.localdate()))
    out["lots"] = [_lot_out(r, counts) for r in rows]
    return out


@router.get("/recalls", response=list[RecallSummaryOut], summary="召回通知列表(含处理时限状态)")
@paginate(Pagination)
def list_recalls(request: HttpRequest, filters: Query[RecallFilter]) -> Any:
    today = timezone.localdate()
    rows = recall.listed(_actor(request), filters.institution_id)
    return [_summary(n, recall.list_state(n, today)) for n in rows]


@router.post("/recalls", response={201: RecallOut, **ERRORS}, summary="登记召回通知(批次即刻停用、库存隔离)")
def create_recall(request: HttpRequest, payload: RecallIn) -> Any:
    data = payload.dict(exclude={"institution_id", "product_id"})
    data["source"] = payload.source.value
    n = recall.create_notice(
        _actor(request), product_id=payload.product_id, institution_id=payload.institution_id, data=data
    )
    return 201, _detail(request, n.pk)


@router.post("/lots/{lot_id}/recall", response={201: RecallOut, **ERRORS}, summary="直接召回一个批次")
def recall_lot(request: HttpRequest, lot_id: int, payload: LotRecallIn) -> Any:
    n = recall.recall_lot(
        _actor(request), lot_id, level=payload.level, reason=payload.reason, reference_no=payload.reference_no
    )
    return 201, _detail(request, n.pk)


@router.get("/recalls/{notice_id}", response={200: RecallOut, **ERRORS}, summary="召回通知详情")
def get_recall(request: HttpRequest, notice_id: int) -> Any:
    return _detail(request, notice_id)


@router.get(
    "/recalls/{notice_id}/clients", response={200: list[RecallClientOut], **ERRORS}, summary="受影响的求美者"
)
def recall_clients(request: HttpRequest, notice_id: int) -> Any:
    actor = _actor(request)
    rows = recall.recall_lots(actor, recall.notice(actor, notice_id))
    return [
        c.__dict__ if hasattr(c, "__dict__") else _client(c) for c in recall.affected_clients(actor, rows)
    ]


def _client(c: recall.AffectedClient) -> dict[str, Any]:
    return {f: getattr(c, f) for f in RecallClientOut.model_fields}


@router.post(
    "/recall-lots/{recall_lot_id}/dispose",
    response={200: RecallLotOut, **ERRORS},
    summary="隔离库存退回供应商或销毁",
)
def dispose(request: HttpRequest, recall_lot_id: int, payload: RecallDisposeIn) -> Any:
    row = recall.dispose(
        _actor(request),
        recall_lot_id,
        disposal=payload.disposal.value,
        quantity=payload.quantity,
        reason=payload.reason,
    )
    return _lot_out(row, recall.client_counts([row.lot_id]))


@router.post(
    "/recalls/{notice_id}/complete", response={200: RecallOut, **ERRORS}, summary="登记本机构召回处理完成"
)
def complete(request: HttpRequest, notice_id: int, payload: RecallCompleteIn) -> Any:
    recall.complete(_actor(request), notice_id, institution_id=payload.institution_id, note=payload.note)
    return _detail(request, notice_id)


@router.get("/recalls/{notice_id}/report.xlsx", response={200: None, 404: ErrorOut}, summary="召回报告 Excel")
def report_xlsx(request: HttpRequest, notice_id: int) -> HttpResponse:
    actor = _actor(request)
    n = recall.notice(actor, notice_id)
    return attachment(recall_report.render_xlsx(actor, notice_id), XLSX, recall_report.filename(n, "xlsx"))


@router.get(
    "/recalls/{notice_id}/report.pdf",
    response={200: None, 404: ErrorOut},
    summary="召回报告 PDF(计数,不含联系方式)",
)
def report_pdf(request: HttpRequest, notice_id: int) -> HttpResponse:
    actor = _actor(request)
    n = recall.notice(actor, notice_id)
    return attachment(
        recall_report.render_pdf(actor, notice_id), "application/pdf", recall_report.filename(n, "pdf")
    )
