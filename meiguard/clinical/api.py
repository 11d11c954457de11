"""The treatment case over HTTP (mounted at /api/v1/clinical), for HIS/EMR systems and the chair-side tablet.

Errors use the one envelope ``{code, message, field, errors[]}``: bad input 422, an object the caller cannot
see 404, a signer without the right 403, a state conflict 409. A gate refusal is 409 ``GATE_REFUSED`` whose
``errors`` list every missing condition (and the engine's own reasons) with a readable source.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, UploadedFile
from pydantic import StringConstraints

from meiguard.core.access import Actor
from meiguard.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from meiguard.core.schemas import ErrorItemOut, ErrorOut, FilterIn, In

from . import actions, exporters, queries
from .models import Client, OperationRecord

router = Router(tags=["clinical"])

Id = Field(..., ge=1, le=2**53)


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


class GateReasonOut(ErrorItemOut):
    source: str = Field("", description="依据:规则或制度的可读出处")


class GateErrorOut(ErrorOut):
    """A refusal whose items are the missing conditions (``GATE_REFUSED``), each with its readable source."""

    errors: list[GateReasonOut] = []  # type: ignore[assignment]


ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: GateErrorOut, 422: ErrorOut}
Strict = In  # request bodies: the API's one input edge (unknown fields 422, bounded values)


# ---- clients ------------------------------------------------------------------------------------


class ClientIn(Strict):
    institution_id: int = Id
    name: str = Field(..., min_length=1, max_length=64)
    sex: Literal["female", "male", "unknown"] = "unknown"
    date_of_birth: dt.date
    phone: str = Field(..., min_length=5, max_length=20)
    document_type: Literal[
        "resident_id", "passport", "hk_macau_permit", "taiwan_permit", "foreign_permanent_id", "other"
    ] = "resident_id"
    id_number: str = Field(..., min_length=1, max_length=32)
    nationality: str = Field("中国", max_length=64)
    allergies: str = Field("", max_length=2000)
    medical_history: str = Field("", max_length=4000)
    medications: str = Field("", max_length=2000)
    previous_treatments: str = Field("", max_length=4000)


class ClientOut(Schema):
    id: int
    institution_id: int
    name: str
    sex: str
    date_of_birth: dt.date
    phone: str
    document_type: str
    id_number_masked: str
    nationality: str
    allergies: str
    medical_history: str
    medications: str
    previous_treatments: str

    @staticmethod
    def build(c: Client | queries.ClientRow) -> ClientOut:
        return ClientOut(
            id=c.pk,
            institution_id=c.institution_id,
            name=c.name,
            sex=c.sex,
            date_of_birth=c.date_of_birth,
            phone=c.phone,
            document_type=c.document_type,
            id_number_masked=c.masked_id_number,
            nationality=c.nationality,
            allergies=c.allergies,
            medical_history=c.medical_history,
            medications=c.medications,
            previous_treatments=c.previous_treatments,
        )


@router.post("/clients", response={200: ClientOut, **ERRORS})
def create_client(request: HttpRequest, payload: ClientIn) -> Any:
    data = payload.dict()
    institution_id = data.pop("institution_id")
    return ClientOut.build(actions.create_client(_actor(request), institution_id=institution_id, data=data))


class SearchIn(FilterIn):
    institution_id: int = Id
    q: str = Field(..., min_length=1, max_length=64, description="姓名(前缀)、手机号或证件号码")


@router.get("/clients", response={200: list[ClientOut], **ERRORS})
def search_clients(request: HttpRequest, filters: Query[SearchIn]) -> Any:
    found = queries.search_clients(_actor(request), filters.institution_id, filters.q)
    return [ClientOut.build(c) for c in found]


@router.get("/clients/{client_id}", response={200: ClientOut, **ERRORS})
def get_client(request: HttpRequest, client_id: int) -> Any:
    return ClientOut.build(queries.client(_actor(request), client_id))


class PrivacyIn(Strict):
    purpose: str = Field(..., min_length=1, max_length=1000)
    scope: list[Literal["health", "photos", "id_document"]] = Field(..., min_length=1, max_length=3)
    retention_years: int = Field(..., ge=1, le=100)
    notice_version: str = Field(..., min_length=1, max_length=32)


class PrivacyOut(Schema):
    id: int
    client_id: int
    purpose: str
    scope: list[str]
    retention_years: int
    notice_version: str
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawal_reason: str


@router.post("/clients/{client_id}/privacy-consents", response={200: PrivacyOut, **ERRORS})
def grant_privacy(request: HttpRequest, client_id: int, payload: PrivacyIn) -> Any:
    return actions.grant_privacy_consent(_actor(request), client_id, **payload.dict())


class ReasonIn(Strict):
    reason: str = Field(..., min_length=1, max_length=1000)


@router.post("/privacy-consents/{consent_id}/withdraw", response={200: PrivacyOut, **ERRORS})
def withdraw_privacy(request: HttpRequest, consent_id: int, payload: ReasonIn) -> Any:
    return actions.withdraw_privacy_consent(_actor(request), consent_id, reason=payload.reason)


# ---- cases --------------------------------------------------------------------------------------


class CaseIn(Strict):
    client_id: int = Id
    procedure_code: str = Field(..., min_length=1, max_length=64)
    operator_id: int = Id
    anesthetist_id: int | None = Field(None, ge=1, le=2**53)
    nurse_id: int | None = Field(None, ge=1, le=2**53)
    anesthesia: Literal["", "local", "epidural-iv", "general"] | None = None
    scheduled_at: dt.datetime | None = Field(None, description="计划时间(到时仍未完成麻醉前核查即提醒)")


class CaseOut(Schema):
    id: int
    code: str
    institution_id: int
    client_id: int
    procedure_code: str
    procedure_name: str
    grade: int | None
    invasiveness: str
    anesthesia: str
    operator_id: int
    anesthetist_id: int | None
    nurse_id: int | None
    status: str
    scheduled_at: dt.datetime | None = None


@router.post("/cases", response={200: CaseOut, **ERRORS})
def create_case(request: HttpRequest, payload: CaseIn) -> Any:
    return actions.create_case(_actor(request), **payload.dict())


class EventOut(Schema):
    at: dt.datetime
    kind: str
    summary: str
    data: dict[str, Any]


class TimelineOut(Schema):
    case: CaseOut
    events: list[EventOut]


@router.get("/cases/{case_id}/timeline", response={200: TimelineOut, **ERRORS})
def timeline(request: HttpRequest, case_id: int) -> Any:
    case, events = queries.timeline(_actor(request), case_id)
    return {"case": case, "events": [_event(e) for e in events]}


def _event(e: queries.Event) -> dict[str, Any]:
    return {"at": e.at, "kind": e.kind, "summary": e.summary, "data": e.data}


class ConsultationIn(Strict):
    needs: str = Field(..., min_length=1, max_length=4000)
    findings: str = Field("", max_length=4000)
    procedure_codes: list[str] = Field(..., min_length=1, max_length=20)


class CaseStepOut(Schema):
    case_id: int
    status: str


def _step(case_id: int, status: str) -> dict[str, Any]:
    return {"case_id": case_id, "status": status}


@router.post("/cases/{case_id}/consultation", response={200: CaseStepOut, **ERRORS})
def save_consultation(request: HttpRequest, case_id: int, payload: ConsultationIn) -> Any:
    c = actions.save_consultation(_actor(request), case_id, **payload.dict())
    return _step(case_id, c.status)


@router.post("/cases/{case_id}/consultation/sign", response={200: CaseStepOut, **ERRORS})
def sign_consultation(request: HttpRequest, case_id: int) -> Any:
    return _step(case_id, actions.sign_consultation(_actor(request), case_id).status)


class TemplateIn(Strict):
    institution_id: int = Id
    procedure_code: str = Field(..., min_length=1, max_length=64)
    title: str = Field(..., min_length=1, max_length=128)
    body: str = Field(..., min_length=1, max_length=20000)
    risks: str = Field(..., min_length=1, max_length=20000)
    alternatives: str = Field(..., min_length=1, max_length=10000)


class TemplateOut(Schema):
    id: int
    procedure_code: str
    version: int
    title: str
    body: str
    risks: str
    alternatives: str
    content_hash: str


@router.post("/consent-templates", response={200: TemplateOut, **ERRORS})
def create_template(request: HttpRequest, payload: TemplateIn) -> Any:
    return actions.create_consent_template(_actor(request), **payload.dict())


class ConsentIn(Strict):
    template_id: int = Id
    content_hash: str = Field(..., min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
    decision: Literal["signed", "refused"]
    signer_name: str = Field(..., min_length=1, max_length=64)
    signer_relation: Literal["self", "guardian"] = "self"
    signature_image: str = Field("", max_length=300_000, description="data:image/png;base64,…(≤ 200 KB)")


class ConsentOut(Schema):
    id: int
    case_id: int
    template_version: int
    content_hash: str
    decision: str
    signer_name: str
    signature_hash: str
    signed_at: dt.datetime
    withdrawn_at: dt.datetime | None


@router.post("/cases/{case_id}/consent", response={200: ConsentOut, **ERRORS})
def sign_consent(request: HttpRequest, case_id: int, payload: ConsentIn) -> Any:
    return actions.sign_consent(_actor(request), case_id, **payload.dict())


@router.post("/cases/{case_id}/consent/withdraw", response={200: ConsentOut, **ERRORS})
def withdraw_consent(request: HttpRequest, case_id: int, payload: ReasonIn) -> Any:
    return actions.withdraw_consent(_actor(request), case_id, reason=payload.reason)


class AssessmentIn(Strict):
    answers: dict[str, str] = Field(..., max_length=50)
    asa_class: int | None = Field(None, ge=1, le=6)


class AssessmentOut(Schema):
    case_id: int
    form_version: str
    score: int
    risk_level: str
    passed: bool
    findings: list[str]
    chief_signed_by_id: int | None
    anesthetist_signed_by_id: int | None


@router.post("/cases/{case_id}/assessment", response={200: AssessmentOut, **ERRORS})
def save_assessment(request: HttpRequest, case_id: int, payload: AssessmentIn) -> Any:
    return actions.save_assessment(_actor(request), case_id, **payload.dict())


class SignIn(Strict):
    role: Literal["chief", "anesthetist"]


@router.post("/cases/{case_id}/assessment/sign", response={200: AssessmentOut, **ERRORS})
def sign_assessment(request: HttpRequest, case_id: int, payload: SignIn) -> Any:
    return actions.sign_assessment(_actor(request), case_id, role=payload.role)


class ReviewOut(Schema):
    case_id: int
    kind: str
    risk_level: str
    status: str
    warnings: list[str]
    required_approvals: int


@router.post("/cases/{case_id}/review", response={200: ReviewOut, **ERRORS})
def open_review(request: HttpRequest, case_id: int) -> Any:
    return actions.open_review(_actor(request), case_id)


class DiscussionIn(Strict):
    department: str = Field(..., min_length=1, max_length=64)
    discussion: str = Field(..., min_length=1, max_length=10000)


@router.post("/cases/{case_id}/review/discussion", response={200: ReviewOut, **ERRORS})
def record_discussion(request: HttpRequest, case_id: int, payload: DiscussionIn) -> Any:
    return actions.record_discussion(_actor(request), case_id, **payload.dict())


class ConfirmIn(Strict):
    role: Literal["chief", "nurse"]


@router.post("/cases/{case_id}/review/confirm", response={200: ReviewOut, **ERRORS})
def confirm_review(request: HttpRequest, case_id: int, payload: ConfirmIn) -> Any:
    return actions.confirm_review(_actor(request), case_id, role=payload.role)


class VoteIn(Strict):
    verdict: Literal["approve", "reject"]
    comment: str = Field("", max_length=2000)


@router.post("/cases/{case_id}/review/vote", response={200: ReviewOut, **ERRORS})
def vote_review(request: HttpRequest, case_id: int, payload: VoteIn) -> Any:
    return actions.vote_review(_actor(request), case_id, **payload.dict())


class NodeIn(Strict):
    party: Literal["surgeon", "anesthetist", "nurse"]
    items: dict[str, bool] = Field(..., max_length=30)
    scanned: list[Annotated[str, StringConstraints(max_length=128)]] = Field([], max_length=20)


class NodeOut(Schema):
    case_id: int
    node: str
    required_parties: list[str]
    surgeon_id: int | None
    anesthetist_id: int | None
    nurse_id: int | None
    completed_at: dt.datetime | None


@router.post("/cases/{case_id}/checklist/{node}/sign", response={200: NodeOut, **ERRORS})
def sign_node(
    request: HttpRequest,
    case_id: int,
    node: Literal["before_anesthesia", "before_incision", "before_leaving"],
    payload: NodeIn,
) -> Any:
    return actions.sign_checklist_node(_actor(request), case_id, node=node, **payload.dict())


class OpenIn(Strict):
    device_ids: list[int] = Field([], max_length=10)
    at: dt.datetime | None = None


class RecordOut(Schema):
    id: int
    case_id: int
    decision_id: int
    operator_id: int
    status: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def build(r: OperationRecord) -> RecordOut:
        return RecordOut(
            id=r.pk,
            case_id=r.case_id,
            decision_id=r.decision_id,
            operator_id=r.operator_id,
            status=r.status,
            opened_at=r.opened_at,
            closed_at=r.closed_at,
        )


@router.post("/cases/{case_id}/record", response={200: RecordOut, **ERRORS})
def open_record(request: HttpRequest, case_id: int, payload: OpenIn) -> Any:
    return RecordOut.build(
        actions.open_record(_actor(request), case_id, device_ids=tuple(payload.device_ids), at=payload.at)
    )


class UsageIn(Strict):
    usage_key: str = Field(
        ..., min_length=1, max_length=64, description="每次扫码唯一;重发同一标识只记录一次"
    )
    code: str = Field("", max_length=128, description="GS1 UDI(带括号或扫码枪原始串)")
    lot_id: int | None = Field(None, ge=1, le=2**53)
    device_id: int | None = Field(None, ge=1, le=2**53)
    dose_value: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=3)
    dose_unit: Literal["", "U", "ml", "mg", "g", "piece", "shot"] = ""
    site: str = Field("", max_length=64)
    minutes: int | None = Field(None, ge=0, le=1440)


class UsageOut(Schema):
    id: int
    case_id: int
    client_id: int
    lot_id: int | None
    device_id: int | None
    unit_serial: str
    dose_value: Decimal | None
    dose_unit: str
    site: str
    minutes: int | None
    decision_id: int
    created_at: dt.datetime


@router.post("/cases/{case_id}/usages", response={200: UsageOut, **ERRORS})
def add_usage(request: HttpRequest, case_id: int, payload: UsageIn) -> Any:
    return actions.add_usage(_actor(request), case_id, **payload.dict())


class RecordCloseIn(Strict):
    notes: str = Field("", max_length=20000)


@router.post("/cases/{case_id}/record/close", response={200: RecordOut, **ERRORS})
def close_record(request: HttpRequest, case_id: int, payload: RecordCloseIn) -> Any:
    return RecordOut.build(actions.close_record(_actor(request), case_id, notes=payload.notes))


# ---- look-back ----------------------------------------------------------------------------------


class TraceOut(Schema):
    usage_id: int
    client_id: int
    client_name: str
    client_phone: str
    case_id: int
    case_code: str
    procedure_name: str
    lot_id: int | None
    lot_no: str
    product: str
    device_id: int | None
    dose: str
    site: str
    at: dt.datetime


def _trace(u: queries.TraceRow) -> dict[str, Any]:
    return {
        "usage_id": u.usage_id,
        "client_id": u.client_id,
        "client_name": u.client_name,
        "client_phone": u.client_phone,
        "case_id": u.case_id,
        "case_code": u.case_code,
        "procedure_name": u.procedure_name,
        "lot_id": u.lot_id,
        "lot_no": u.lot_no,
        "product": u.product,
        "device_id": u.device_id,
        "dose": f"{u.dose_value.normalize():f}{u.dose_unit}" if u.dose_value is not None else "",
        "site": u.site,
        "at": u.created_at,
    }


class LookbackIn(FilterIn):
    """The API's one pagination (``core.pagination``: ``limit`` 1–1000, default 100; ``offset`` 0–10^9), and
    ``format=xlsx`` for the Excel export (every row up to ``exporters.MAX_EXPORT_ROWS``; pages do not apply)."""

    format: Literal["json", "xlsx"] = "json"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="每页条数 / page size (1–1000)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="跳过条数 / rows to skip")


class TracePageOut(Schema):
    items: list[TraceOut]
    count: int = Field(..., description="整个列表的条数 / rows in the whole list")


@router.get("/lots/{lot_id}/clients", response={200: TracePageOut, **ERRORS})
def clients_of_lot(request: HttpRequest, lot_id: int, filters: Query[LookbackIn]) -> Any:
    """Recall look-back: every client who received the lot, by client then time, a page at a time."""
    actor = _actor(request)
    if filters.format == "xlsx":
        rows = queries.clients_of_lot(actor, lot_id, limit=exporters.MAX_EXPORT_ROWS + 1)
        return exporters.trace_xlsx(actor, [_trace(u) for u in rows], f"lot-{lot_id}", lot_id=lot_id)
    page = queries.clients_of_lot_page(actor, lot_id, limit=filters.limit, offset=filters.offset)
    return {"items": [_trace(u) for u in page.rows], "count": page.total}


@router.get("/clients/{client_id}/usages", response={200: TracePageOut, **ERRORS})
def usages_of_client(request: HttpRequest, client_id: int, filters: Query[LookbackIn]) -> Any:
    """What went into the client, in time order, a page at a time."""
    actor = _actor(request)
    if filters.format == "xlsx":
        rows = queries.usages_of_client(actor, client_id, limit=exporters.MAX_EXPORT_ROWS + 1)
        return exporters.trace_xlsx(actor, [_trace(u) for u in rows], f"client-{client_id}")
    page = queries.usages_of_client_page(actor, client_id, limit=filters.limit, offset=filters.offset)
    return {"items": [_trace(u) for u in page.rows], "count": page.total}


class CoverageOut(Schema):
    surgical_cases: int
    all_nodes_complete: int


@router.get("/institutions/{institution_id}/checklist-coverage", response={200: CoverageOut, **ERRORS})
def coverage(request: HttpRequest, institution_id: int) -> Any:
    return queries.checklist_coverage(_actor(request), institution_id)


# ---- photos (issue 12, second part) -------------------------------------------------------------


class PhotoOut(Schema):
    id: int
    client_id: int
    case_id: int | None
    kind: str
    sha256: str
    taken_at: dt.datetime
    content_path: str = Field(..., description="经权限检查并留痕的查看地址(没有公开的媒体 URL)")

    @staticmethod
    def build(p: Any) -> PhotoOut:
        return PhotoOut(
            id=p.pk,
            client_id=p.client_id,
            case_id=p.case_id,
            kind=p.kind,
            sha256=p.sha256,
            taken_at=p.taken_at,
            content_path=f"/api/v1/clinical/photos/{p.pk}/content",
        )


@router.post("/clients/{client_id}/photos", response={200: PhotoOut, **ERRORS})
def upload_photo(
    request: HttpRequest,
    client_id: int,
    file: File[UploadedFile],
    kind: Form[Literal["before", "after", "other"]],
    case_id: Form[int | None] = None,
    taken_at: Form[dt.datetime | None] = None,
) -> Any:
    if file.size is not None and file.size > actions.MAX_PHOTO_BYTES:
        data = b"x" * (actions.MAX_PHOTO_BYTES + 1)  # refused with the size message, without reading it all
    else:
        data = file.read(actions.MAX_PHOTO_BYTES + 1)
    photo = actions.upload_photo(
        _actor(request), client_id, kind=kind, data=data, case_id=case_id, taken_at=taken_at
    )
    return PhotoOut.build(photo)


@router.get("/clients/{client_id}/photos", response={200: list[PhotoOut], **ERRORS})
def list_photos(request: HttpRequest, client_id: int) -> Any:
    return [PhotoOut.build(p) for p in queries.photos_of_client(_actor(request), client_id)]


@router.get("/photos/{photo_id}/content", response={200: None, **ERRORS})
def photo_content(request: HttpRequest, photo_id: int) -> Any:
    """The image bytes; each call is audited (clinical.clientphoto.viewed). Never cached."""
    photo, data, content_type = actions.view_photo(_actor(request), photo_id)
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = (
        f'inline; filename="photo-{photo.pk}.{actions.PHOTO_TYPES[content_type]}"'
    )
    return response


# ---- checklist coverage by month (issue 12, second part) ----------------------------------------


class CoverageIn(FilterIn):
    start: dt.date = Field(..., description="首月(含),按手术记录开启的本地日期")
    end: dt.date = Field(..., description="末日(含);最多 24 个月")


class CoverageMonthOut(Schema):
    month: str
    surgical_cases: int
    all_nodes_complete: int
    share: float | None = Field(..., description="三个节点全部完成的手术病例占比(%);当月无手术为 null")
    target: int = Field(..., description="目标 100%")
    met: bool | None


class CoverageReportOut(Schema):
    institution_id: int
    target: int
    months: list[CoverageMonthOut]


@router.get(
    "/institutions/{institution_id}/checklist-coverage/monthly", response={200: CoverageReportOut, **ERRORS}
)
def coverage_by_month(request: HttpRequest, institution_id: int, filters: Query[CoverageIn]) -> Any:
    from django.utils.translation import gettext as _

    from meiguard.core.errors import FieldErrors

    if filters.end < filters.start:
        raise FieldErrors({"end": [_("结束日期不能早于开始日期")]})
    if (filters.end.year - filters.start.year) * 12 + filters.end.month - filters.start.month >= 24:
        raise FieldErrors({"end": [_("最多查询 24 个月")]})
    months = queries.checklist_coverage_by_month(
        _actor(request), institution_id, start=filters.start, end=filters.end
    )
    target = queries.COVERAGE_TARGET
    return {
        "institution_id": institution_id,
        "target": target,
        "months": [
            {
                "month": m.month,
                "surgical_cases": m.surgical_cases,
                "all_nodes_complete": m.all_nodes_complete,
                "share": m.share,
                "target": target,
                "met": None if m.share is None else m.share >= target,
            }
            for m in months
        ],
    }
