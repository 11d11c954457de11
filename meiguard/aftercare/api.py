"""Aftercare over HTTP (mounted at /api/v1/aftercare): follow-ups and adverse reactions with their clocks.

Errors use the one envelope ``{code, message, field, errors[]}``: bad input 422, an object the caller cannot
see 404, a step by the wrong profession 403, a state conflict 409. Lists are paginated (``limit``/``offset``).
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from meiguard.core.access import Actor
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In

from . import actions, policy, queries
from .choices import ClockState, StepKind
from .models import AdverseReaction, FollowUp

router = Router(tags=["aftercare"])

Id = Field(..., ge=1, le=2**53)
ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


# ---- follow-ups ---------------------------------------------------------------------------------


class FollowUpOut(Schema):
    id: int
    institution_id: int
    case_id: int
    case_code: str
    procedure_name: str
    kind: str
    kind_label: str
    offset: str
    window_from: dt.datetime | None
    due_at: dt.datetime
    overdue: bool
    assignee_id: int
    assignee_name: str
    status: str
    status_label: str
    attempts: int
    source: str
    recovery: str
    adverse_signs: bool
    satisfaction: int | None
    notes: str
    done_at: dt.datetime | None

    @staticmethod
    def resolve_case_code(obj: FollowUp) -> str:
        return obj.case.code

    @staticmethod
    def resolve_procedure_name(obj: FollowUp) -> str:
        return obj.case.procedure_name

    @staticmethod
    def resolve_kind_label(obj: FollowUp) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_overdue(obj: FollowUp) -> bool:
        return obj.is_overdue(timezone.now())

    @staticmethod
    def resolve_assignee_name(obj: FollowUp) -> str:
        return obj.assignee.name

    @staticmethod
    def resolve_status_label(obj: FollowUp) -> str:
        return str(obj.get_status_display())


class FollowUpFilter(FilterIn):
    mine: bool = Field(False, description="只看分配给我的随访")
    institution_id: int | None = Field(None, ge=1, le=2**53)
    status: Literal["due", "done", "missed", "lost"] | None = None
    due: Literal["today", "overdue", "open"] | None = None


@router.get("/follow-ups", response={200: list[FollowUpOut], **ERRORS}, summary="随访 / Follow-ups")
@paginate(Pagination)
def list_follow_ups(request: HttpRequest, filters: Query[FollowUpFilter]) -> Any:
    f = filters
    qs = queries.follow_ups(
        _actor(request), institution_id=f.institution_id, mine=f.mine, status=f.status or "", due=f.due or ""
    )
    return qs


@router.get("/follow-ups/{follow_up_id}", response={200: FollowUpOut, **ERRORS})
def get_follow_up(request: HttpRequest, follow_up_id: int) -> Any:
    return queries.follow_up(_actor(request), follow_up_id)


class OutcomeIn(In):
    reached: bool
    recovery: Literal["good", "slow", "poor"] | None = None
    adverse_signs: bool = False
    satisfaction: int | None = Field(None, ge=1, le=5)
    notes: str = Field("", max_length=4000)
    reaction_grade: Literal["mild", "moderate", "severe"] | None = None
    reaction_description: str = Field("", max_length=4000)


@router.post("/follow-ups/{follow_up_id}/outcome", response={200: FollowUpOut, **ERRORS})
def record_outcome(request: HttpRequest, follow_up_id: int, payload: OutcomeIn) -> Any:
    fu = actions.record_follow_up(
        _actor(request),
        follow_up_id,
        reached=payload.reached,
        recovery=payload.recovery or "",
        adverse_signs=payload.adverse_signs,
        satisfaction=payload.satisfaction,
        notes=payload.notes,
        reaction_grade=payload.reaction_grade or "",
        reaction_description=payload.reaction_description,
    )
    return queries.follow_up(_actor(request), fu.pk)


# ---- reactions ----------------------------------------------------------------------------------


class ReactionStepOut(Schema):
    id: int
    kind: str
    kind_label: str
    at: dt.datetime
    by_id: int
    by_name: str
    note: str


class ReactionLotOut(Schema):
    id: int
    lot_no: str
    product: str


class ClockOut(Schema):
    state: str
    state_label: str
    started_at: dt.datetime
    due_at: dt.datetime
    seconds_left: int
    required_steps: list[str]
    missing_steps: list[str]
    handled_at: dt.datetime | None
    warned_at: dt.datetime | None
    escalated_at: dt.datetime | None
    source: str


def _clock(rx: AdverseReaction, at: dt.datetime) -> ClockOut:
    clock = policy.CLOCKS[rx.grade]
    state = rx.clock_state(at)
    recorded = {s.kind for s in rx.steps.all()}  # prefetched by the queries
    return ClockOut(
        state=state,
        state_label=str(ClockState(state).label),
        started_at=rx.clock_started_at,
        due_at=rx.due_at,
        seconds_left=int(rx.remaining(at).total_seconds()),
        required_steps=[k for k in StepKind.values if k in clock.required],
        missing_steps=clock.missing(recorded),
        handled_at=rx.handled_at,
        warned_at=rx.warned_at,
        escalated_at=rx.breached_at,
        source=clock.source(translation.get_language()),
    )


class ReactionOut(Schema):
    id: int
    institution_id: int
    case_id: int
    case_code: str
    procedure_name: str
    follow_up_id: int | None
    source: str
    grade: str
    grade_label: str
    description: str
    onset_at: dt.datetime | None
    reported_at: dt.datetime
    reporter_name: str
    assignee_id: int
    assignee_name: str
    status: str
    status_label: str
    clock: ClockOut

    @staticmethod
    def resolve_case_code(obj: AdverseReaction) -> str:
        return obj.case.code

    @staticmethod
    def resolve_procedure_name(obj: AdverseReaction) -> str:
        return obj.case.procedure_name

    @staticmethod
    def resolve_grade_label(obj: AdverseReaction) -> str:
        return str(obj.get_grade_display())

    @staticmethod
    def resolve_assignee_name(obj: AdverseReaction) -> str:
        return obj.assignee.name

    @staticmethod
    def resolve_status_label(obj: AdverseReaction) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_clock(obj: AdverseReaction) -> ClockOut:
        return _clock(obj, timezone.now())


class ReactionDetailOut(ReactionOut):
    steps: list[ReactionStepOut]
    lots: list[ReactionLotOut]

    @staticmethod
    def resolve_steps(obj: AdverseReaction) -> list[ReactionStepOut]:
        return [
            ReactionStepOut(
                id=s.pk,
                kind=s.kind,
                kind_label=str(s.get_kind_display()),
                at=s.at,
                by_id=s.by_id,
                by_name=s.by.name,
                note=s.note,
            )
            for s in obj.steps.all()
        ]

    @staticmethod
    def resolve_lots(obj: AdverseReaction) -> list[ReactionLotOut]:
        return [
            ReactionLotOut(id=lot.pk, lot_no=lot.lot_no, product=str(lot.product)) for lot in obj.lots.all()
        ]


class ReactionIn(In):
    case_id: int = Id
    grade: Literal["mild", "moderate", "severe"]
    description: str = Field(..., min_length=1, max_length=4000)
    source: Literal["staff", "api", "client"] = "api"
    onset_at: dt.datetime | None = None
    reporter_name: str = Field("", max_length=64)
    follow_up_id: int | None = Field(None, ge=1, le=2**53)


@router.post("/reactions", response={200: ReactionDetailOut, **ERRORS}, summary="报告不良反应 / Report")
def report_reaction(request: HttpRequest, payload: ReactionIn) -> Any:
    rx = actions.report_reaction(
        _actor(request),
        case_id=payload.case_id,
        grade=payload.grade,
        description=payload.description,
        source=payload.source,
        onset_at=payload.onset_at,
        reporter_name=payload.reporter_name,
        follow_up_id=payload.follow_up_id,
    )
    return queries.reaction(_actor(request), rx.pk)


class ReactionFilter(FilterIn):
    institution_id: int | None = Field(None, ge=1, le=2**53)
    grade: Literal["mild", "moderate", "severe"] | None = None
    status: Literal["open", "resolved"] | None = None
    clock: Literal["running", "overdue", "handled"] | None = None


@router.get("/reactions", response={200: list[ReactionOut], **ERRORS}, summary="不良反应 / Reactions")
@paginate(Pagination)
def list_reactions(request: HttpRequest, filters: Query[ReactionFilter]) -> Any:
    f = filters
    qs = queries.reactions(
        _actor(request),
        institution_id=f.institution_id,
        grade=f.grade or "",
        status=f.status or "",
        clock=f.clock or "",
    )
    return qs


@router.get("/reactions/{reaction_id}", response={200: ReactionDetailOut, **ERRORS})
def get_reaction(request: HttpRequest, reaction_id: int) -> Any:
    return queries.reaction(_actor(request), reaction_id)


class StepIn(In):
    kind: Literal["guidance", "revisit", "mdt", "emergency", "note", "resolved"]
    note: str = Field("", max_length=4000)
    at: dt.datetime | None = None


@router.post("/reactions/{reaction_id}/steps", response={200: ReactionDetailOut, **ERRORS})
def record_step(request: HttpRequest, reaction_id: int, payload: StepIn) -> Any:
    actions.record_step(_actor(request), reaction_id, kind=payload.kind, note=payload.note, at=payload.at)
    return queries.reaction(_actor(request), reaction_id)


class LotFlagOut(Schema):
    lot_id: int
    reactions: int
    threshold: int
    window_days: int
    flagged: bool


@router.get("/lots/{lot_id}/reactions", response={200: LotFlagOut, **ERRORS}, summary="批次不良反应标记")
def lot_flag(request: HttpRequest, lot_id: int) -> Any:
    f = queries.lot_flag(_actor(request), lot_id)
    return LotFlagOut(
        lot_id=f.lot_id,
        reactions=f.reactions,
        threshold=f.threshold,
        window_days=f.window_days,
        flagged=f.flagged,
    )


# ---- incidents and regulatory reports (incident_api.py) ---------------------------------------------

from .incident_api import router as incident_router  # noqa: E402

router.add_router("/incidents", incident_router)
