"""Incidents and regulatory reports over HTTP (mounted under the aftercare router: /api/v1/aftercare/incidents).

Errors use the one envelope: bad input 422, an object the caller cannot see 404, a staff member who is not
医务科 / 授权专员 / admin grading or submitting 403, a state conflict 409.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from meiguard.clinical.pdf import attachment
from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import incident_policy as ip
from . import incident_queries as queries
from . import incident_report, incidents
from .choices import ReportState
from .models import EvidenceSeal, Incident

router = Router(tags=["aftercare"])

Id = Field(..., ge=1, le=2**53)
OptId = Field(None, ge=1, le=2**53)
ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
Kind = Literal["device_ae", "drug_adr", "quality_event", "hazard"]
Grade = Literal["I", "II", "III", "IV"]
SeverityIn = Literal["death", "serious", "serious_new", "other", "extra_major", "major", "general", "none"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


class ReportClockOut(Schema):
    required: bool
    clock: str
    within: str
    state: str
    state_label: str
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    warned_at: dt.datetime | None
    escalated_at: dt.datetime | None
    submitted_at: dt.datetime | None
    channel: str
    reference: str
    source: str


def _clock(i: Incident) -> ReportClockOut:
    clock = ip.CLOCKS.get(i.report_clock)
    state = i.report_state(timezone.now())
    return ReportClockOut(
        required=clock is not None,
        clock=i.report_clock,
        within=incidents.within_label(clock) if clock else "",
        state=state,
        state_label=str(ReportState(state).label),
        due_at=i.report_due_at,
        warn_at=i.report_warn_at,
        warned_at=i.report_warned_at,
        escalated_at=i.report_breached_at,
        submitted_at=i.report_submitted_at,
        channel=i.report_channel,
        reference=i.report_reference,
        source=clock.source(translation.get_language()) if clock else "",
    )


class IncidentOut(Schema):
    id: int
    institution_id: int
    kind: str
    kind_label: str
    grade: str
    grade_label: str
    severity: str
    severity_label: str
    title: str
    description: str
    discovered_at: dt.datetime
    case_id: int | None
    product_id: int | None
    lot_id: int | None
    device_id: int | None
    reaction_id: int | None
    is_cluster: bool
    cluster_id: int | None
    reporter_name: str
    reported_at: dt.datetime
    status: str
    status_label: str
    grading_source: str
    report: ReportClockOut

    @staticmethod
    def resolve_kind_label(obj: Incident) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_grade_label(obj: Incident) -> str:
        return str(obj.get_grade_display())

    @staticmethod
    def resolve_severity_label(obj: Incident) -> str:
        return str(obj.get_severity_display())

    @staticmethod
    def resolve_status_label(obj: Incident) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_grading_source(obj: Incident) -> str:
        return ip.grading_source(translation.get_language())

    @staticmethod
    def resolve_report(obj: Incident) -> ReportClockOut:
        return _clock(obj)


class UnsealOut(Schema):
    unsealed_at: dt.datetime
    place: str
    purpose: str
    institution_rep_name: str
    client_party_name: str
    client_party_relation: str


class SealOut(Schema):
    id: int
    incident_id: int
    items: str
    lot_id: int | None
    sealed_at: dt.datetime
    place: str
    institution_rep_name: str
    client_party_name: str
    client_party_relation: str
    keeper: str
    unseal: UnsealOut | None

    @staticmethod
    def resolve_unseal(obj: EvidenceSeal) -> UnsealOut | None:
        u = getattr(obj, "unseal", None)
        if u is None:
            return None
        return UnsealOut(
            unsealed_at=u.unsealed_at,
            place=u.place,
            purpose=u.purpose,
            institution_rep_name=u.institution_rep_name,
            client_party_name=u.client_party_name,
            client_party_relation=u.client_party_relation,
        )


class IncidentDetailOut(IncidentOut):
    member_incident_ids: list[int]
    member_reaction_ids: list[int]
    seals: list[SealOut]

    @staticmethod
    def resolve_member_incident_ids(obj: Incident) -> list[int]:
        return [m.pk for m in obj.members.all()]

    @staticmethod
    def resolve_member_reaction_ids(obj: Incident) -> list[int]:
        return [r.pk for r in obj.cluster_reactions.all()]

    @staticmethod
    def resolve_seals(obj: Incident) -> list[EvidenceSeal]:
        return list(obj.seals.all())


class IncidentFilter(FilterIn):
    institution_id: int | None = OptId
    kind: Kind | None = None
    status: Literal["open", "closed"] | None = None
    report: Literal["due", "overdue", "submitted", "none"] | None = None


@router.get("", response={200: list[IncidentOut], **ERRORS}, summary="不良事件登记册 / Incident register")
@paginate(Pagination)
def list_incidents(request: HttpRequest, filters: Query[IncidentFilter]) -> Any:
    f = filters
    return queries.incidents(
        _actor(request),
        institution_id=f.institution_id,
        kind=f.kind or "",
        status=f.status or "",
        report=f.report or "",
    )


class IncidentIn(In):
    institution_id: int = Id
    kind: Kind
    grade: Grade
    severity: SeverityIn | None = None
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field(..., min_length=1, max_length=4000)
    discovered_at: dt.datetime
    case_id: int | None = OptId
    product_id: int | None = OptId
    lot_id: int | None = OptId
    device_id: int | None = OptId
    reaction_id: int | None = OptId


@router.post("", response={200: IncidentDetailOut, **ERRORS}, summary="登记不良事件或隐患 / Report")
def report_incident(request: HttpRequest, payload: IncidentIn) -> Any:
    i = incidents.report_incident(
        _actor(request),
        institution_id=payload.institution_id,
        kind=payload.kind,
        grade=payload.grade,
        severity=payload.severity or "",
        title=payload.title,
        description=payload.description,
        discovered_at=payload.discovered_at,
        case_id=payload.case_id,
        product_id=payload.product_id,
        lot_id=payload.lot_id,
        device_id=payload.device_id,
        reaction_id=payload.reaction_id,
    )
    return queries.incident(_actor(request), i.pk)


class ClusterIn(In):
    institution_id: int = Id
    lot_id: int | None = OptId
    product_id: int | None = OptId


@router.post("/cluster", response={200: IncidentDetailOut, **ERRORS}, summary="群体事件判定 / Check cluster")
def detect_cluster(request: HttpRequest, payload: ClusterIn) -> Any:
    i = incidents.detect_cluster(
        _actor(request),
        institution_id=payload.institution_id,
        lot_id=payload.lot_id,
        product_id=payload.product_id,
    )
    return queries.incident(_actor(request), i.pk)


@router.get("/{incident_id}", response={200: IncidentDetailOut, **ERRORS})
def get_incident(request: HttpRequest, incident_id: int) -> Any:
    return queries.incident(_actor(request), incident_id)


class GradeIn(In):
    grade: Grade
    severity: SeverityIn | None = None
    kind: Kind | None = None


@router.post("/{incident_id}/grade", response={200: IncidentDetailOut, **ERRORS}, summary="定级 / Grade")
def grade_incident(request: HttpRequest, incident_id: int, payload: GradeIn) -> Any:
    incidents.grade_incident(
        _actor(request),
        incident_id,
        grade=payload.grade,
        severity=payload.severity or "",
        kind=payload.kind or "",
    )
    return queries.incident(_actor(request), incident_id)


class SubmitIn(In):
    submitted_at: dt.datetime
    channel: Literal["online", "phone_fax", "paper", "other"]
    reference: str = Field("", max_length=64)


@router.post("/{incident_id}/submit", response={200: IncidentDetailOut, **ERRORS}, summary="记录上报")
def submit_report(request: HttpRequest, incident_id: int, payload: SubmitIn) -> Any:
    incidents.submit_report(
        _actor(request),
        incident_id,
        submitted_at=payload.submitted_at,
        channel=payload.channel,
        reference=payload.reference,
    )
    return queries.incident(_actor(request), incident_id)


@router.post("/{incident_id}/close", response={200: IncidentDetailOut, **ERRORS}, summary="结案 / Close")
def close_incident(request: HttpRequest, incident_id: int) -> Any:
    incidents.close_incident(_actor(request), incident_id)
    return queries.incident(_actor(request), incident_id)


class SealIn(In):
    items: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        ..., min_length=1, max_length=20, description="封存物品,每项一件"
    )
    lot_id: int | None = OptId
    sealed_at: dt.datetime
    place: str = Field(..., min_length=1, max_length=128)
    client_party_name: str = Field(..., min_length=1, max_length=64)
    client_party_relation: str = Field(..., min_length=1, max_length=32)
    keeper: str = Field(..., min_length=1, max_length=128)
    institution_confirmed: bool
    client_confirmed: bool


@router.post("/{incident_id}/seals", response={200: SealOut, **ERRORS}, summary="实物封存 / Seal evidence")
def seal(request: HttpRequest, incident_id: int, payload: SealIn) -> Any:
    queries.incident(_actor(request), incident_id)  # 404 when not visible
    data = payload.dict()
    data["items"] = "\n".join(item.strip() for item in payload.items)
    s = incidents.record_seal(_actor(request), incident_id, **data)
    return queries.seal(_actor(request), s.pk)


class UnsealIn(In):
    unsealed_at: dt.datetime
    place: str = Field(..., min_length=1, max_length=128)
    purpose: str = Field(..., min_length=1, max_length=200)
    client_party_name: str = Field(..., min_length=1, max_length=64)
    client_party_relation: str = Field(..., min_length=1, max_length=32)
    institution_confirmed: bool
    client_confirmed: bool


@router.post("/seals/{seal_id}/unseal", response={200: SealOut, **ERRORS}, summary="启封 / Unseal")
def unseal(request: HttpRequest, seal_id: int, payload: UnsealIn) -> Any:
    queries.seal(_actor(request), seal_id)
    incidents.record_unseal(_actor(request), seal_id, **payload.dict())
    return queries.seal(_actor(request), seal_id)


class ExportFilter(FilterIn):
    format: Literal["pdf", "xlsx"] = "pdf"


@router.get("/{incident_id}/report", response={200: None, **ERRORS}, summary="报告表 PDF / Excel")
def export_report(request: HttpRequest, incident_id: int, filters: Query[ExportFilter]) -> Any:
    i = queries.incident(_actor(request), incident_id)
    if filters.format == "xlsx":
        response = HttpResponse(incident_report.render_xlsx(_actor(request), i.pk), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{incident_report.filename(i, "xlsx")}"'
        response["Cache-Control"] = "no-store"
        return response
    return attachment(incident_report.render_pdf(_actor(request), i.pk), incident_report.filename(i, "pdf"))


class EscalateIn(In):
    kind: Kind | None = None
    grade: Grade | None = None
    severity: SeverityIn | None = None
    title: str = Field("", max_length=200)


@router.post(
    "/from-reaction/{reaction_id}",
    response={200: IncidentDetailOut, **ERRORS},
    summary="不良反应升级为不良事件",
)
def escalate_reaction(request: HttpRequest, reaction_id: int, payload: EscalateIn) -> Any:
    i = incidents.escalate_reaction(_actor(request), reaction_id, **payload.dict())
    return queries.incident(_actor(request), i.pk)
