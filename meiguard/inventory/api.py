"""Inventory over HTTP (mounted at /api/v1/inventory), for a pharmacy system, an HIS or a scanner station.

Same conventions as every router: strict bodies (unknown fields 422, every id/number/date/string bounded), the
one error envelope ``{code, message, field, errors[]}``, ``?limit=&offset=`` on lists. Bad lines of a receipt are
reported one by one (``lines[i].field``); nothing is written unless every line is good.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import StringConstraints

from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorItemOut, ErrorOut, FilterIn, In

from . import actions, queries
from .choices import MAX_CODES_PER_LINE, LocationKind
from .models import Receipt, ReceiptLine

router = Router(tags=["inventory"])

Id = Field(..., ge=1, le=2**53)
OptId = Field(None, ge=1, le=2**53)
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{20}$")]
Quantity = Field(..., gt=0, le=999999999, max_digits=12, decimal_places=3)


class CheckErrorOut(ErrorOut):
    errors: list[ErrorItemOut] = []


ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: CheckErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


# ---- locations ----------------------------------------------------------------------------------


class LocationOut(Schema):
    id: int
    institution_id: int
    name: str
    kind: str
    is_active: bool


class LocationIn(In):
    institution_id: int = Id
    name: str = Field(..., min_length=1, max_length=64)
    kind: LocationKind


class LocationPatch(In):
    name: str | None = Field(None, min_length=1, max_length=64)
    kind: LocationKind | None = None
    is_active: bool | None = None


class InstitutionFilter(FilterIn):
    institution_id: int | None = OptId


@router.get("/locations", response=list[LocationOut], summary="库位列表")
@paginate(Pagination)
def list_locations(request: HttpRequest, filters: Query[InstitutionFilter]) -> Any:
    return queries.locations(_actor(request), filters.institution_id)


@router.post("/locations", response={201: LocationOut, **ERRORS}, summary="新增库位")
def create_location(request: HttpRequest, payload: LocationIn) -> Any:
    return 201, actions.create_location(
        _actor(request), institution_id=payload.institution_id, name=payload.name, kind=payload.kind.value
    )


@router.patch("/locations/{location_id}", response={200: LocationOut, **ERRORS}, summary="修改库位")
def update_location(request: HttpRequest, location_id: int, payload: LocationPatch) -> Any:
    return actions.update_location(
        _actor(request),
        location_id,
        name=payload.name,
        kind=payload.kind.value if payload.kind else None,
        is_active=payload.is_active,
    )


# ---- receipts -----------------------------------------------------------------------------------


class CheckOut(Schema):
    check: str
    passed: bool


class LineOut(Schema):
    id: int
    product_id: int
    lot_no: str
    production_date: dt.date | None
    expiry_date: dt.date
    quantity: Decimal
    unit: str
    location_id: int
    identified_by: str
    scanned_code: str
    trace_codes: list[str]
    manual_reason: str
    temperature_c: Decimal | None
    packaging_intact: bool
    checks: list[CheckOut]
    status: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    reject_reason: str
    lot_id: int | None
    keep_until: dt.date | None = Field(description="记录保存至;空为永久保存(植入物)")


class ReceiptOut(Schema):
    id: int
    institution_id: int
    supplier_id: int
    delivery_note_no: str
    received_at: dt.datetime
    received_by_id: int
    note: str


class ReceiptDetailOut(ReceiptOut):
    lines: list[LineOut]


class LineIn(In):
    """One line: a scanned GS1 UDI (``code``), the units' 20-digit trace codes, or by hand with a reason."""

    code: str | None = Field(None, min_length=1, max_length=128, description="扫描的 GS1 UDI")
    trace_codes: list[Code] = Field(default_factory=list, max_length=MAX_CODES_PER_LINE)
    product_id: int | None = OptId
    lot_no: str | None = Field(None, min_length=1, max_length=40)
    production_date: dt.date | None = None
    expiry_date: dt.date | None = None
    quantity: Decimal | None = Field(None, gt=0, le=999999999, max_digits=12, decimal_places=3)
    unit: str | None = Field(None, min_length=1, max_length=8)
    location_id: int = Id
    manual_reason: str | None = Field(None, min_length=1, max_length=500)
    temperature_c: Decimal | None = Field(None, ge=-50, le=60, max_digits=4, decimal_places=1)
    packaging_intact: bool


class ReceiptIn(In):
    institution_id: int = Id
    supplier_id: int = Id
    delivery_note_no: str = Field(..., min_length=1, max_length=64)
    received_at: dt.datetime | None = None
    note: str = Field("", max_length=2000)
    lines: list[LineIn] = Field(..., min_length=1, max_length=200)


class RejectIn(In):
    reason: str = Field(..., min_length=1, max_length=500)


def _detail(receipt: Receipt, lines: list[ReceiptLine]) -> dict[str, Any]:
    return {**ReceiptOut.from_orm(receipt).model_dump(), "lines": lines}


@router.get("/receipts", response=list[ReceiptOut], summary="验收入库单列表")
@paginate(Pagination)
def list_receipts(request: HttpRequest, filters: Query[InstitutionFilter]) -> Any:
    return queries.receipts(_actor(request), filters.institution_id)


@router.post("/receipts", response={201: ReceiptDetailOut, **ERRORS}, summary="登记验收入库单(含明细)")
def create_receipt(request: HttpRequest, payload: ReceiptIn) -> Any:
    actor = _actor(request)
    receipt = actions.create_receipt(
        actor,
        institution_id=payload.institution_id,
        supplier_id=payload.supplier_id,
        delivery_note_no=payload.delivery_note_no,
        received_at=payload.received_at,
        note=payload.note,
        lines=[line.dict() for line in payload.lines],
    )
    return 201, _detail(receipt, queries.receipt_lines(actor, receipt.pk))


@router.get("/receipts/{receipt_id}", response={200: ReceiptDetailOut, **ERRORS}, summary="验收入库单详情")
def get_receipt(request: HttpRequest, receipt_id: int) -> Any:
    actor = _actor(request)
    receipt = queries.receipt(actor, receipt_id)
    return _detail(receipt, queries.receipt_lines(actor, receipt.pk))


@router.post("/receipt-lines/{line_id}/accept", response={200: LineOut, **ERRORS}, summary="验收合格入库")
def accept_line(request: HttpRequest, line_id: int) -> Any:
    return actions.accept_line(_actor(request), line_id)


@router.post("/receipt-lines/{line_id}/reject", response={200: LineOut, **ERRORS}, summary="拒收(须填写原因)")
def reject_line(request: HttpRequest, line_id: int, payload: RejectIn) -> Any:
    return actions.reject_line(_actor(request), line_id, reason=payload.reason)


# ---- movements and counts -----------------------------------------------------------------------


class MovementOut(Schema):
    id: int
    institution_id: int
    lot_id: int
    location_id: int
    kind: str
    quantity: Decimal
    reason: str
    at: dt.datetime
    by_id: int | None
    receipt_line_id: int | None
    usage_id: int | None
    counterpart_id: int | None
    count_id: int | None


class MovementFilters(FilterIn):
    institution_id: int | None = OptId
    lot_id: int | None = OptId
    location_id: int | None = OptId
    kind: (
        Literal[
            "receipt",
            "issue",
            "return",
            "transfer_out",
            "transfer_in",
            "scrap",
            "adjustment",
            "supplier_return",
        ]
        | None
    ) = None


class MovementIn(In):
    kind: Literal["transfer", "scrap", "return", "adjustment", "supplier_return"]
    lot_id: int = Id
    location_id: int = Id
    to_location_id: int | None = OptId
    quantity: Decimal = Field(
        ..., ge=-999999999, le=999999999, max_digits=12, decimal_places=3, description="调整可为负"
    )
    reason: str = Field(..., min_length=1, max_length=500)
    trace_codes: list[Code] = Field(default_factory=list, max_length=MAX_CODES_PER_LINE)


@router.get("/movements", response=list[MovementOut], summary="库存变动(台账)")
@paginate(Pagination)
def list_movements(request: HttpRequest, filters: Query[MovementFilters]) -> Any:
    return queries.movements(
        _actor(request),
        institution_id=filters.institution_id,
        lot_id=filters.lot_id,
        location_id=filters.location_id,
        kind=filters.kind,
    )


@router.post(
    "/movements",
    response={201: list[MovementOut], **ERRORS},
    summary="登记调拨、报废、病例退回、退回供应商或盘点调整",
)
def create_movement(request: HttpRequest, payload: MovementIn) -> Any:
    return 201, actions.record_movement(
        _actor(request),
        kind=payload.kind,
        lot_id=payload.lot_id,
        location_id=payload.location_id,
        quantity=payload.quantity,
        reason=payload.reason,
        to_location_id=payload.to_location_id,
        trace_codes=payload.trace_codes,
    )


class CountItemIn(In):
    lot_id: int = Id
    counted: Decimal = Field(..., ge=0, le=999999999, max_digits=12, decimal_places=3)


class CountIn(In):
    location_id: int = Id
    counts: list[CountItemIn] = Field(..., min_length=1, max_length=500)
    reason: str = Field("", max_length=500)


class CountOut(Schema):
    id: int
    institution_id: int
    location_id: int
    counted_at: dt.datetime
    counted_by_id: int
    reason: str
    lines: list[dict[str, Any]]


@router.post("/counts", response={201: CountOut, **ERRORS}, summary="盘点(差异生成调整变动)")
def create_count(request: HttpRequest, payload: CountIn) -> Any:
    return 201, actions.record_count(
        _actor(request),
        location_id=payload.location_id,
        counts=[c.dict() for c in payload.counts],
        reason=payload.reason,
    )


# ---- stock on hand, near expiry, FEFO -----------------------------------------------------------


class StockOut(Schema):
    lot_id: int
    lot_no: str
    product_id: int
    product: str
    expiry_date: dt.date
    lot_status: str
    location_id: int
    location: str
    quantity: Decimal
    near_expiry: bool
    expired: bool


class StockFilters(FilterIn):
    institution_id: int = Id
    location_id: int | None = OptId
    product_id: int | None = OptId
    near_expiry: bool = False


def _stock_out(rows: list[queries.StockRow]) -> list[dict[str, Any]]:
    return [
        {
            "lot_id": r.lot.pk,
            "lot_no": r.lot.lot_no,
            "product_id": r.lot.product_id,
            "product": str(r.lot.product),
            "expiry_date": r.lot.expiry_date,
            "lot_status": r.lot.status,
            "location_id": r.location.pk,
            "location": r.location.name,
            "quantity": r.quantity,
            "near_expiry": r.near_expiry,
            "expired": r.expired,
        }
        for r in rows
    ]


@router.get("/stock", response={200: list[StockOut], **ERRORS}, summary="库存(按批次与库位)")
def stock(request: HttpRequest, filters: Query[StockFilters]) -> Any:
    rows = queries.stock(
        _actor(request),
        filters.institution_id,
        location_id=filters.location_id,
        product_id=filters.product_id,
        near_expiry_only=filters.near_expiry,
    )
    return _stock_out(rows)


class NearExpiryFilters(FilterIn):
    institution_id: int = Id


@router.get("/near-expiry", response={200: list[StockOut], **ERRORS}, summary="近效期库存")
def near_expiry(request: HttpRequest, filters: Query[NearExpiryFilters]) -> Any:
    return _stock_out(queries.stock(_actor(request), filters.institution_id, near_expiry_only=True))


class FefoFilters(FilterIn):
    institution_id: int = Id
    product_id: int = Id


@router.get("/fefo", response={200: list[StockOut], **ERRORS}, summary="先到期先出:取货建议")
def fefo(request: HttpRequest, filters: Query[FefoFilters]) -> Any:
    return _stock_out(queries.fefo(_actor(request), filters.institution_id, filters.product_id))


# ---- trace codes, alerts, scan share ------------------------------------------------------------


class TraceCodeOut(Schema):
    code: str
    institution_id: int
    lot_id: int
    location_id: int
    receipt_line_id: int
    status: str
    usage_id: int | None
    used_at: dt.datetime | None


class TraceCodeFilter(FilterIn):
    code: Code


@router.get("/trace-code", response={200: TraceCodeOut, **ERRORS}, summary="追溯码查询(?code=20位)")
def trace_code(request: HttpRequest, filters: Query[TraceCodeFilter]) -> Any:
    # A query parameter, not a path segment: the edge reads an all-digit path segment as an id.
    return queries.trace_code(_actor(request), filters.code)


class AlertOut(Schema):
    id: int
    institution_id: int
    kind: str
    code: str
    times: int
    first_by_id: int | None
    case_id_seen: int | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by_id: int | None
    resolution: str


@router.get("/alerts", response=list[AlertOut], summary="假冒/串货预警")
@paginate(Pagination)
def list_alerts(request: HttpRequest, filters: Query[InstitutionFilter]) -> Any:
    return queries.alerts(_actor(request), filters.institution_id)


class ResolveIn(In):
    resolution: str = Field(..., min_length=1, max_length=500)


@router.post("/alerts/{alert_id}/resolve", response={200: AlertOut, **ERRORS}, summary="登记预警处理结果")
def resolve_alert(request: HttpRequest, alert_id: int, payload: ResolveIn) -> Any:
    return actions.resolve_alert(_actor(request), alert_id, resolution=payload.resolution)


class ShareOut(Schema):
    month: dt.date
    usages: int
    scanned: int
    by_trace_code: int
    share: float | None = Field(description="扫码记录占比(0–1);目标 100%")


class ShareFilters(FilterIn):
    institution_id: int = Id
    months: int = Field(12, ge=1, le=36)


@router.get("/scan-share", response={200: list[ShareOut], **ERRORS}, summary="扫码使用占比(按月)")
def scan_share(request: HttpRequest, filters: Query[ShareFilters]) -> Any:
    rows = queries.scan_share(_actor(request), filters.institution_id, months=filters.months)
    return [
        {
            "month": r.month,
            "usages": r.usages,
            "scanned": r.scanned,
            "by_trace_code": r.by_trace_code,
            "share": r.share,
        }
        for r in rows
    ]


# ---- high-risk drugs: two-person issue, daily reconciliation, the register (issue 13 part 4) ------------


class IssueIn(In):
    lot_id: int = Id
    location_id: int = Id
    quantity: Decimal = Quantity
    purpose: str = Field(..., min_length=1, max_length=200)
    case_id: int | None = OptId


class IssueCancelIn(In):
    reason: str = Field(..., min_length=1, max_length=500)


class IssueOut(Schema):
    id: int
    institution_id: int
    lot_id: int
    location_id: int
    quantity: Decimal
    purpose: str
    case_id: int | None
    status: str
    requested_by_id: int
    requested_at: dt.datetime
    confirmed_by_id: int | None
    confirmed_at: dt.datetime | None
    cancel_reason: str
    movement_id: int | None


class IssueFilters(FilterIn):
    institution_id: int | None = OptId
    status: Literal["requested", "confirmed", "cancelled"] | None = None


@router.get("/issues", response=list[IssueOut], summary="高风险药品双人出库列表")
@paginate(Pagination)
def list_issues(request: HttpRequest, filters: Query[IssueFilters]) -> Any:
    from .models import IssueRequest

    qs = IssueRequest.objects.visible_to(_actor(request))
    if filters.institution_id is not None:
        qs = qs.filter(institution_id=filters.institution_id)
    if filters.status is not None:
        qs = qs.filter(status=filters.status)
    return qs.order_by("-requested_at", "-pk")


@router.post("/issues", response={201: IssueOut, **ERRORS}, summary="高风险药品出库申请(待第二人确认)")
def request_issue(request: HttpRequest, payload: IssueIn) -> Any:
    from . import highrisk

    return 201, highrisk.request_issue(
        _actor(request),
        lot_id=payload.lot_id,
        location_id=payload.location_id,
        quantity=payload.quantity,
        purpose=payload.purpose,
        case_id=payload.case_id,
    )


@router.post("/issues/{issue_id}/confirm", response={200: IssueOut, **ERRORS}, summary="第二人复核确认出库")
def confirm_issue(request: HttpRequest, issue_id: int) -> Any:
    from . import highrisk

    return highrisk.confirm_issue(_actor(request), issue_id)


@router.post("/issues/{issue_id}/cancel", response={200: IssueOut, **ERRORS}, summary="取消未确认的出库申请")
def cancel_issue(request: HttpRequest, issue_id: int, payload: IssueCancelIn) -> Any:
    from . import highrisk

    return highrisk.cancel_issue(_actor(request), issue_id, reason=payload.reason)


class ReconciliationOut(Schema):
    id: int
    institution_id: int
    product_id: int
    day: dt.date
    used: Decimal
    issued: Decimal
    on_hand: Decimal
    matched: bool
    alert_id: int | None
    ran_at: dt.datetime


class ReconciliationFilters(FilterIn):
    institution_id: int | None = OptId
    product_id: int | None = OptId
    start: dt.date | None = None
    end: dt.date | None = None
    matched: bool | None = None


@router.get("/reconciliations", response=list[ReconciliationOut], summary="高风险药品每日对账结果")
@paginate(Pagination)
def list_reconciliations(request: HttpRequest, filters: Query[ReconciliationFilters]) -> Any:
    from .models import Reconciliation

    qs = Reconciliation.objects.visible_to(_actor(request))
    if filters.institution_id is not None:
        qs = qs.filter(institution_id=filters.institution_id)
    if filters.product_id is not None:
        qs = qs.filter(product_id=filters.product_id)
    if filters.start is not None:
        qs = qs.filter(day__gte=filters.start)
    if filters.end is not None:
        qs = qs.filter(day__lte=filters.end)
    if filters.matched is not None:
        qs = qs.filter(matched=filters.matched)
    return qs.order_by("-day", "product_id")


class ReconcileIn(In):
    institution_id: int = Id
    day: dt.date


class ReconcileOut(Schema):
    reconciled: int
    discrepancies: int
    alerts: int


@router.post("/reconciliations/run", response={200: ReconcileOut, **ERRORS}, summary="立即执行某日对账")
def run_reconciliation(request: HttpRequest, payload: ReconcileIn) -> Any:
    from . import highrisk

    return highrisk.run_reconciliation(_actor(request), institution_id=payload.institution_id, on=payload.day)


class RegisterFilters(FilterIn):
    institution_id: int = Id
    product_id: int = Id
    start: dt.date | None = None
    end: dt.date | None = None
    format: Literal["pdf", "xlsx"] = "xlsx"


@router.get("/register", response={200: None, **ERRORS}, summary="高风险药品专用账册导出(PDF / Excel)")
def export_register(request: HttpRequest, filters: Query[RegisterFilters]) -> Any:
    from . import register
    from .highrisk_views import XLSX, attachment

    start, end = register.period(filters.start, filters.end)
    reg = register.build(
        _actor(request),
        institution_id=filters.institution_id,
        product_id=filters.product_id,
        start=start,
        end=end,
    )
    if filters.format == "pdf":
        return attachment(register.render_pdf(reg), "application/pdf", register.filename(reg, "pdf"))
    return attachment(register.render_xlsx(reg), XLSX, register.filename(reg, "xlsx"))


# Recalls (DD-09): their routes are declared on this router in recall_api.
from . import recall_api  # noqa: E402,F401
