"""Complaints over HTTP (mounted at /api/v1/complaints): intake with a tracking number, the workflow, the
timeline and both clocks.

Errors use the one envelope ``{code, message, field, errors[]}``: bad input 422, an object the caller cannot
see 404, an action by someone who is not its owner or an officer 403, a wrong state 409. Lists are paginated
(``limit``/``offset``). The complainant's name and contact are returned only to those who see the complaint.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import actions, policy, queries
from .choices import SlaState
from .models import Complaint

router = Router(tags=["complaints"])

Id = Field(..., ge=1, le=2**53)
ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ChannelIn = Literal["phone", "walk_in", "letter", "online", "association"]
CategoryIn = Literal["service", "price", "outcome", "adverse", "privacy", "advertising", "other"]
StatusIn = Literal[
    "received", "acknowledged", "investigating", "resolved", "escalated", "closed", "withdrawn"
]


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


class ComplaintClockOut(Schema):
    due_at: dt.datetime
    done_at: dt.datetime | None
    state: str
    state_label: str


class ComplaintEventOut(Schema):
    id: int
    kind: str
    kind_label: str
    at: dt.datetime
    by_name: str
    to_user_name: str | None
    note: str


def _clock(due: dt.datetime, done: dt.datetime | None, state: str) -> ComplaintClockOut:
    return ComplaintClockOut(due_at=due, done_at=done, state=state, state_label=str(SlaState(state).label))


class ComplaintOut(Schema):
    id: int
    tracking_no: str
    institution_id: int
    institution_name: str
    channel: str
    channel_label: str
    category: str
    category_label: str
    status: str
    status_label: str
    received_at: dt.datetime
    owner_id: int | None
    owner_name: str | None
    multi_department: bool
    case_id: int | None
    acknowledgement: ComplaintClockOut
    resolution_clock: ComplaintClockOut
    escalated_to_id: int | None
    escalated_at: dt.datetime | None

    @staticmethod
    def resolve_institution_name(obj: Complaint) -> str:
        return obj.institution.name

    @staticmethod
    def resolve_channel_label(obj: Complaint) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_category_label(obj: Complaint) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_status_label(obj: Complaint) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_owner_name(obj: Complaint) -> str | None:
        return str(obj.owner) if obj.owner_id else None

    @staticmethod
    def resolve_acknowledgement(obj: Complaint) -> ComplaintClockOut:
        return _clock(obj.ack_due_at, obj.acknowledged_at, obj.ack_state(timezone.now()))

    @staticmethod
    def resolve_resolution_clock(obj: Complaint) -> ComplaintClockOut:
        return _clock(obj.resolve_due_at, obj.resolved_at, obj.resolve_state(timezone.now()))


class ComplaintDetailOut(ComplaintOut):
    complainant_name: str
    complainant_contact: str
    description: str
    practitioner_ids: list[int]
    resolved_on_spot: bool
    resolution: str
    satisfaction: int | None
    closing_note: str
    source: str
    events: list[ComplaintEventOut]

    @staticmethod
    def resolve_practitioner_ids(obj: Complaint) -> list[int]:
        return sorted(p.pk for p in obj.practitioners.all())

    @staticmethod
    def resolve_source(obj: Complaint) -> str:
        return policy.source(translation.get_language())

    @staticmethod
    def resolve_events(obj: Complaint) -> list[ComplaintEventOut]:
        return [
            ComplaintEventOut(
                id=e.pk,
                kind=e.kind,
                kind_label=str(e.get_kind_display()),
                at=e.at,
                by_name=e.by_label,
                to_user_name=str(e.to_user) if e.to_user_id else None,
                note=e.note,
            )
            for e in obj.events.all()
        ]


class ComplaintFilter(FilterIn):
    institution_id: int | None = Field(None, ge=1, le=2**53)
    status: StatusIn | None = None
    category: CategoryIn | None = None
    channel: Literal["phone", "walk_in", "letter", "online", "association", "public"] | None = None
    sla: Literal["overdue", "due_soon", "on_time", "late"] | None = None
    mine: bool = Field(False, description="只看我负责的投诉")
    escalated: bool = Field(False, description="只看已提交协会的投诉")


@router.get("", response={200: list[ComplaintOut], **ERRORS}, summary="投诉 / Complaints")
@paginate(Pagination)
def list_complaints(request: HttpRequest, filters: Query[ComplaintFilter]) -> Any:
    f = filters
    return queries.complaints(
        _actor(request),
        institution_id=f.institution_id,
        status=f.status or "",
        category=f.category or "",
        channel=f.channel or "",
        sla=f.sla or "",
        mine=f.mine,
        escalated=f.escalated,
    )


class ComplaintIn(In):
    institution_id: int = Id
    channel: ChannelIn
    category: CategoryIn
    complainant_name: str = Field(..., min_length=1, max_length=64)
    complainant_contact: str = Field(..., min_length=1, max_length=64)
    description: str = Field(..., min_length=1, max_length=4000)
    case_id: int | None = Field(None, ge=1, le=2**53)
    practitioner_ids: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(default_factory=list, max_length=20)
    multi_department: bool = False
    received_at: dt.datetime | None = None
    on_spot: bool = Field(False, description="当场处理(须填写处理结果并经投诉人确认)")
    resolution_text: str = Field("", max_length=4000)
    complainant_confirmed: bool = False
    satisfaction: int | None = Field(None, ge=1, le=5)


@router.post("", response={200: ComplaintDetailOut, **ERRORS}, summary="受理投诉 / Take a complaint")
def receive(request: HttpRequest, payload: ComplaintIn) -> Any:
    c = actions.receive(
        _actor(request),
        institution_id=payload.institution_id,
        channel=payload.channel,
        category=payload.category,
        complainant_name=payload.complainant_name,
        complainant_contact=payload.complainant_contact,
        description=payload.description,
        case_id=payload.case_id,
        practitioner_ids=payload.practitioner_ids,
        multi_department=payload.multi_department,
        received_at=payload.received_at,
        on_spot=payload.on_spot,
        resolution=payload.resolution_text,
        complainant_confirmed=payload.complainant_confirmed,
        satisfaction=payload.satisfaction,
    )
    return queries.complaint(_actor(request), c.pk)


@router.get("/{complaint_id}", response={200: ComplaintDetailOut, **ERRORS})
def get_complaint(request: HttpRequest, complaint_id: int) -> Any:
    return queries.complaint(_actor(request), complaint_id)


class ComplaintNoteIn(In):
    note: str = Field("", max_length=4000)


class RequiredNoteIn(In):
    note: str = Field(..., min_length=1, max_length=4000)


class ComplaintReasonIn(In):
    reason: str = Field(..., min_length=1, max_length=1000)


class HandoverIn(In):
    to_user_id: int = Id
    reason: str = Field(..., min_length=1, max_length=1000)


class ComplaintResolveIn(In):
    resolution_text: str = Field(..., min_length=1, max_length=4000)


class ComplaintCloseIn(In):
    satisfaction: int | None = Field(None, ge=1, le=5)
    no_answer_note: str = Field("", max_length=1000)


class EscalateIn(In):
    reason: str = Field(..., min_length=1, max_length=1000)
    organization_id: int | None = Field(None, ge=1, le=2**53)


def _detail(request: HttpRequest, pk: int) -> Any:
    return queries.complaint(_actor(request), pk)


@router.post("/{complaint_id}/acknowledge", response={200: ComplaintDetailOut, **ERRORS}, summary="回应")
def acknowledge(request: HttpRequest, complaint_id: int, payload: ComplaintNoteIn) -> Any:
    actions.acknowledge(_actor(request), complaint_id, note=payload.note)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/investigate", response={200: ComplaintDetailOut, **ERRORS}, summary="开始调查")
def investigate(request: HttpRequest, complaint_id: int, payload: ComplaintNoteIn) -> Any:
    actions.investigate(_actor(request), complaint_id, note=payload.note)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/notes", response={200: ComplaintDetailOut, **ERRORS}, summary="调查记录")
def add_note(request: HttpRequest, complaint_id: int, payload: RequiredNoteIn) -> Any:
    actions.add_note(_actor(request), complaint_id, note=payload.note)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/handover", response={200: ComplaintDetailOut, **ERRORS}, summary="移交")
def handover(request: HttpRequest, complaint_id: int, payload: HandoverIn) -> Any:
    actions.handover(_actor(request), complaint_id, to_user_id=payload.to_user_id, reason=payload.reason)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/resolve", response={200: ComplaintDetailOut, **ERRORS}, summary="处理结果")
def resolve(request: HttpRequest, complaint_id: int, payload: ComplaintResolveIn) -> Any:
    actions.resolve_complaint(_actor(request), complaint_id, resolution=payload.resolution_text)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/close", response={200: ComplaintDetailOut, **ERRORS}, summary="结案")
def close(request: HttpRequest, complaint_id: int, payload: ComplaintCloseIn) -> Any:
    actions.close(
        _actor(request),
        complaint_id,
        satisfaction=payload.satisfaction,
        no_answer_note=payload.no_answer_note,
    )
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/escalate", response={200: ComplaintDetailOut, **ERRORS}, summary="提交协会")
def escalate(request: HttpRequest, complaint_id: int, payload: EscalateIn) -> Any:
    actions.escalate(
        _actor(request), complaint_id, reason=payload.reason, organization_id=payload.organization_id
    )
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/withdraw", response={200: ComplaintDetailOut, **ERRORS}, summary="撤回")
def withdraw(request: HttpRequest, complaint_id: int, payload: ComplaintReasonIn) -> Any:
    actions.withdraw(_actor(request), complaint_id, reason=payload.reason)
    return _detail(request, complaint_id)
