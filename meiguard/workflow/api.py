"""Applications and approvals over HTTP (mounted at /api/v1/applications).

Errors use the one envelope ``{code, message, field, errors[]}`` (core.apierrors): bad input 422, an
object the caller cannot see 404, an action the caller may not take 403, a state conflict 409.
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate

from meiguard.authz.choices import AuthorizationKind
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorOut, FilterIn, In
from meiguard.rules.choices import Subject

from . import actions, preview, queries
from .choices import ApplicationStatus, EvidenceKind, RiskLevel
from .models import Application, ApprovalStep, Evidence
from .reasons import risk_message

router = Router(tags=["workflow"])


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# ---- schemas -----------------------------------------------------------------------------------

SubjectIn = Literal["", "cosmetic_surgery", "cosmetic_dentistry", "cosmetic_dermatology", "cosmetic_tcm"]
assert set(SubjectIn.__args__) - {""} == set(Subject.values)  # type: ignore[attr-defined]


class ScopeIn(In):
    kind: AuthorizationKind
    practitioner_id: int | None = Field(None, ge=1, description="申请授权人员;技术授权可空(授予本机构)")
    grantor: str = Field("", max_length=128)
    procedure_code: str = Field("", max_length=64)
    procedure_category: str = Field("", max_length=32)
    subject: SubjectIn = ""
    product_brand: str = Field("", max_length=128)
    device_model: str = Field("", max_length=128)
    technology_name: str = Field("", max_length=128)
    technology_kind: Literal["", "new", "transfer"] = ""
    scope_note: str = Field("", max_length=2000)
    valid_from: dt.date
    valid_until: dt.date | None = None
    max_grade: int | None = Field(None, ge=1, le=4)
    supervisor_id: int | None = Field(None, ge=1)
    justification: str = Field("", max_length=4000)


class ApplicationIn(ScopeIn):
    institution_id: int = Field(..., ge=1)


class ApplicationPatch(In):
    kind: AuthorizationKind | None = None
    practitioner_id: int | None = Field(None, ge=1)
    grantor: str | None = Field(None, max_length=128)
    procedure_code: str | None = Field(None, max_length=64)
    procedure_category: str | None = Field(None, max_length=32)
    subject: SubjectIn | None = None
    product_brand: str | None = Field(None, max_length=128)
    device_model: str | None = Field(None, max_length=128)
    technology_name: str | None = Field(None, max_length=128)
    technology_kind: Literal["", "new", "transfer"] | None = None
    scope_note: str | None = Field(None, max_length=2000)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    max_grade: int | None = Field(None, ge=1, le=4)
    supervisor_id: int | None = Field(None, ge=1)
    justification: str | None = Field(None, max_length=4000)


_NULLABLE = {"practitioner_id", "valid_until", "max_grade", "supervisor_id"}


def _data(payload: Schema, *, exclude_unset: bool = False, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.dict(exclude_unset=exclude_unset).items():
        if key in drop:
            continue
        if hasattr(value, "value"):
            value = value.value
        if value is None and key not in _NULLABLE:
            value = ""
        out[key] = value
    return out


class RiskReasonOut(Schema):
    code: str
    level: str
    message: str
    source: str
    facts: dict[str, str]


class VoteOut(Schema):
    user_id: int
    username: str
    verdict: str
    comment: str
    created_at: dt.datetime


class StepOut(Schema):
    id: int
    round: int
    order: int
    stage: str
    status: str
    required_approvals: int
    pool_size: int
    committee_id: int | None
    opened_at: dt.datetime | None
    decided_at: dt.datetime | None
    votes: list[VoteOut]

    @staticmethod
    def resolve_votes(obj: ApprovalStep) -> list[dict[str, Any]]:
        return [
            {
                "user_id": v.user_id,
                "username": v.user.get_username(),
                "verdict": v.verdict,
                "comment": v.comment,
                "created_at": v.created_at,
            }
            for v in obj.votes.all()
        ]


class EvidenceOut(Schema):
    id: int
    kind: str
    original_name: str
    note: str
    qualification_id: int | None
    uploaded_by_id: int
    created_at: dt.datetime
    has_file: bool
    download_url: str

    @staticmethod
    def resolve_has_file(obj: Evidence) -> bool:
        return bool(obj.file)

    @staticmethod
    def resolve_download_url(obj: Evidence) -> str:
        return reverse("workflow:evidence_file", args=[obj.application_id, obj.pk]) if obj.file else ""


class ApplicationRowOut(Schema):
    id: int
    institution_id: int
    practitioner_id: int | None
    applicant_id: int
    on_behalf: bool
    kind: str
    procedure_code: str
    procedure_category: str
    subject: str
    product_brand: str
    device_model: str
    technology_name: str
    technology_kind: str
    valid_from: dt.date
    valid_until: dt.date | None
    max_grade: int | None
    risk_level: str
    status: str
    round: int
    authorization_id: int | None
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ApplicationOut(ApplicationRowOut):
    grantor: str
    scope_note: str
    supervisor_id: int | None
    justification: str
    status_reason: str
    risk_reasons: list[RiskReasonOut]
    gaps_at_submission: list[str]
    steps: list[StepOut]
    evidence: list[EvidenceOut]

    @staticmethod
    def resolve_risk_reasons(obj: Application) -> list[dict[str, Any]]:
        return [
            {
                "code": r.get("code", ""),
                "level": r.get("level", ""),
                "message": risk_message(r.get("code", ""), r.get("facts", {})),
                "source": r.get("source", ""),
                "facts": {k: str(v) for k, v in (r.get("facts") or {}).items()},
            }
            for r in obj.risk_reasons or []
        ]

    @staticmethod
    def resolve_steps(obj: Application) -> list[ApprovalStep]:
        return list(
            obj.steps.select_related("committee").prefetch_related("votes__user").order_by("round", "order")
        )

    @staticmethod
    def resolve_evidence(obj: Application) -> list[Evidence]:
        return queries.evidence(obj)


class ApplicationFilter(FilterIn):
    view: Literal["all", "mine", "to_approve"] = "all"
    status: ApplicationStatus | None = None
    institution_id: int | None = Field(None, ge=1)
    practitioner_id: int | None = Field(None, ge=1)
    kind: AuthorizationKind | None = None
    risk_level: RiskLevel | None = None


class GapRuleOut(Schema):
    pack: str
    version: int
    rule_id: str
    source: str


class GapOut(Schema):
    code: str
    severity: str
    blocking: bool
    message: str
    source: str
    rule: GapRuleOut | None
    procedures: list[str]
    from_engine: bool


class RouteStepOut(Schema):
    stage: str
    required: int
    pool: int


class RoutingProblemOut(Schema):
    code: str
    message: str


class PreviewOut(Schema):
    application_id: int
    evaluated_on: dt.date
    rule_pack: str
    risk_level: str
    risk_reasons: list[RiskReasonOut]
    gaps: list[GapOut]
    missing_evidence: list[str]
    route: list[RouteStepOut]
    routing_problems: list[RoutingProblemOut]
    can_submit: bool
    procedures_checked: int
    error: str


class ActIn(In):
    step_id: int = Field(..., ge=1, description="当前待审批环节的 id(见 steps)")
    verdict: Literal["approve", "reject", "return"]
    comment: str = Field("", max_length=2000, description="驳回或退回时必填")


class WithdrawIn(In):
    reason: str = Field("", max_length=2000)


class PendingOut(Schema):
    step_id: int
    application_id: int
    stage: str
    required_approvals: int
    pool_size: int
    opened_at: dt.datetime | None
    institution_id: int
    institution: str
    practitioner_id: int | None
    practitioner: str
    kind: str
    risk_level: str


class CommitteeOut(Schema):
    id: int
    institution_id: int
    name: str
    quorum: int
    member_ids: list[int]
    is_active: bool

    @staticmethod
    def resolve_member_ids(obj: Any) -> list[int]:
        return sorted(u.pk for u in obj.members.all())


class CommitteeIn(In):
    name: str = Field(..., min_length=1, max_length=128)
    quorum: int = Field(..., ge=1, le=50)
    member_ids: list[int] = Field(default_factory=list, max_length=100)
    is_active: bool = True


# ---- endpoints ---------------------------------------------------------------------------------


@router.get("", response=list[ApplicationRowOut], summary="授权申请列表 / Applications")
@paginate(Pagination)
def list_applications(request: HttpRequest, filters: Query[ApplicationFilter]) -> Any:
    f = filters
    return queries.applications(
        _actor(request),
        view=f.view,
        status=f.status.value if f.status else "",
        institution_id=f.institution_id,
        practitioner_id=f.practitioner_id,
        kind=f.kind.value if f.kind else "",
        risk_level=f.risk_level.value if f.risk_level else "",
    )


@router.post("", response={201: ApplicationOut, **ERRORS}, summary="新建申请草稿 / Create a draft")
def create_application(request: HttpRequest, payload: ApplicationIn) -> tuple[int, Application]:
    app = actions.create_application(
        _actor(request), institution_id=payload.institution_id, data=_data(payload, drop=("institution_id",))
    )
    return 201, app


@router.get("/inbox", response=list[PendingOut], summary="待我审批 / Steps awaiting me")
@paginate(Pagination)
def inbox(request: HttpRequest) -> Any:
    return [
        {
            "step_id": s.pk,
            "application_id": s.application_id,
            "stage": s.stage,
            "required_approvals": s.required_approvals,
            "pool_size": s.pool_size,
            "opened_at": s.opened_at,
            "institution_id": s.application.institution_id,
            "institution": s.application.institution.name,
            "practitioner_id": s.application.practitioner_id,
            "practitioner": s.application.practitioner.name if s.application.practitioner else "",
            "kind": s.application.kind,
            "risk_level": s.application.risk_level,
        }
        for s in queries.pending_for(_actor(request))
    ]


@router.get("/committees", response=list[CommitteeOut], summary="专家委员会 / Expert committees")
def list_committees(request: HttpRequest) -> Any:
    return list(queries.committees(_actor(request)))


@router.put("/committees/{institution_id}", response={200: CommitteeOut, **ERRORS}, summary="设置专家委员会")
def put_committee(request: HttpRequest, institution_id: int, payload: CommitteeIn) -> Any:
    return actions.save_committee(
        _actor(request),
        institution_id=institution_id,
        name=payload.name,
        quorum=payload.quorum,
        member_ids=payload.member_ids,
        is_active=payload.is_active,
    )


@router.get("/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="申请详情")
def get_application(request: HttpRequest, application_id: int) -> Application:
    return queries.application(_actor(request), application_id)


@router.patch("/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="修改草稿 / 退回的申请")
def update_application(request: HttpRequest, application_id: int, payload: ApplicationPatch) -> Application:
    return actions.update_application(
        _actor(request), application_id, data=_data(payload, exclude_unset=True)
    )


@router.post(
    "/{application_id}/evidence",
    response={201: EvidenceOut, **ERRORS},
    summary="上传申请材料 (multipart: kind, file, note, qualification_id)",
)
def upload_evidence(
    request: HttpRequest,
    application_id: int,
    kind: Form[EvidenceKind],
    note: Form[str] = "",
    qualification_id: Form[int | None] = None,
    file: File[UploadedFile | None] = None,
) -> tuple[int, Evidence]:
    item = actions.add_evidence(
        _actor(request),
        application_id,
        kind=kind.value,
        file=file,
        note=note,
        qualification_id=qualification_id,
    )
    return 201, item


@router.delete(
    "/{application_id}/evidence/{evidence_id}", response={204: None, **ERRORS}, summary="移除申请材料"
)
def delete_evidence(request: HttpRequest, application_id: int, evidence_id: int) -> tuple[int, None]:
    actions.remove_evidence(_actor(request), application_id, evidence_id)
    return 204, None


@router.get(
    "/{application_id}/missing", response={200: PreviewOut, **ERRORS}, summary="缺项预览 / What's missing"
)
def missing(request: HttpRequest, application_id: int) -> PreviewOut:
    """The requested scope judged by the decision engine as if granted: every remaining deny reason with its
    rule, the workflow's own gaps, the evidence not yet attached, and the approval route."""
    actor = _actor(request)
    app = queries.application(actor, application_id)
    p = preview.build(actor, app)
    return PreviewOut(
        application_id=app.pk,
        evaluated_on=p.on,
        rule_pack=p.rule_pack,
        risk_level=p.risk.level,
        risk_reasons=[
            RiskReasonOut(
                code=r.code,
                level=r.level,
                message=risk_message(r.code, dict(r.facts)),
                source=r.source,
                facts=dict(r.facts),
            )
            for r in p.risk.reasons
        ],
        gaps=[
            GapOut(
                code=g.code,
                severity=g.severity,
                blocking=g.blocking,
                message=g.message,
                source=g.source,
                rule=GapRuleOut(
                    pack=g.rule.pack, version=g.rule.version, rule_id=g.rule.rule_id, source=g.rule.source
                )
                if g.rule
                else None,
                procedures=list(g.procedures),
                from_engine=g.from_engine,
            )
            for g in p.gaps
        ],
        missing_evidence=list(p.missing_evidence),
        route=[RouteStepOut(stage=s.stage, required=s.required, pool=s.pool) for s in p.route],
        routing_problems=[RoutingProblemOut(code=r.code, message=r.message) for r in p.routing_problems],
        can_submit=p.can_submit,
        procedures_checked=p.procedures_checked,
        error=p.error,
    )


@router.post("/{application_id}/submit", response={200: ApplicationOut, **ERRORS}, summary="提交 / 重新提交")
def submit(request: HttpRequest, application_id: int) -> Application:
    return actions.submit(_actor(request), application_id)


@router.post(
    "/{application_id}/act",
    response={200: ApplicationOut, **ERRORS},
    summary="审批:approve / reject / return",
)
def act(request: HttpRequest, application_id: int, payload: ActIn) -> Application:
    actor = _actor(request)
    app = queries.application(actor, application_id)
    if not app.steps.filter(pk=payload.step_id).exists():
        raise NotFoundField("step_id")
    actions.act(actor, payload.step_id, verdict=payload.verdict, comment=payload.comment)
    return queries.application(actor, application_id)


@router.post("/{application_id}/withdraw", response={200: ApplicationOut, **ERRORS}, summary="撤回申请")
def withdraw(request: HttpRequest, application_id: int, payload: WithdrawIn) -> Application:
    return actions.withdraw(_actor(request), application_id, reason=payload.reason)
