"""Decisions and the authorization archive over HTTP (mounted at /api/v1/)."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import BaseModel, ConfigDict, SkipValidation, model_validator
from pydantic import ValidationError as PydanticValidationError

from meiguard.core import ratelimit
from meiguard.core.access import Actor
from meiguard.core.api import charge_cost
from meiguard.core.apierrors import NotFoundField, field_path, pydantic_message
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.pagination import Pagination
from meiguard.core.schemas import ErrorItemOut, ErrorOut, FilterIn, In
from meiguard.rules.api import RuleRefOut
from meiguard.rules.choices import Anesthesia

from . import actions, queries
from .choices import AuthorizationKind, AuthorizationStatus, DecisionChannel, TechnologyKind
from .facts import DecisionRequest, ProductUse
from .models import Authorization, DecisionLog
from .policy import Decision
from .reasons import reason_dict

router = Router(tags=["authz"])

BATCH_MAX = 1000
BATCH_COST_MAX = 5000  # Σ (1 + products + devices) over the items


class ProductUseIn(In):
    lot_id: int | None = Field(None, ge=1, description="批次 id(与 trace_code 二选一)")
    trace_code: str | None = Field(
        None, min_length=1, max_length=120, description="扫码所得 UDI,如 (01)06901234567892(10)LOT01"
    )
    dose_value: Decimal | None = Field(
        None, ge=0, le=100000, max_digits=10, decimal_places=3, description="本次剂量"
    )
    dose_unit: str | None = Field(None, min_length=1, max_length=8, description="剂量单位,如 U、ml")
    minutes: int | None = Field(None, ge=0, le=600, description="单部位操作分钟数(填充类)")

    @model_validator(mode="after")
    def one_way_to_name_the_lot(self) -> "ProductUseIn":
        if (self.lot_id is None) == (self.trace_code is None):
            raise ValueError(gettext("批次 id 与追溯码须且只能填写一个"))
        return self


class DecisionIn(In):
    institution_id: int = Field(..., ge=1)
    practitioner_id: int = Field(..., ge=1)
    procedure_code: str = Field(..., min_length=1, max_length=64)
    at: dt.datetime | None = Field(None, description="核验时点(默认现在),须带时区")
    products: list[ProductUseIn] = Field(default_factory=list, max_length=20)
    device_ids: list[int] = Field(default_factory=list, max_length=10)
    supervisor_id: int | None = Field(None, ge=1, description="在场指导的主诊医师")
    anesthetist_id: int | None = Field(None, ge=1, description="实施麻醉的麻醉医师")
    anesthesia: Anesthesia | None = Field(
        None, description="麻醉方式 local / epidural-iv / general(默认:项目目录的最高麻醉方式)"
    )

    def to_request(self, actor: Actor) -> DecisionRequest:
        uses = []
        for i, p in enumerate(self.products):
            lot_id = p.lot_id
            if lot_id is None:
                assert p.trace_code is not None
                lot_id = actions.lot_for_trace_code(
                    actor, self.institution_id, p.trace_code, field=f"products[{i}].trace_code"
                )
            uses.append(ProductUse(lot_id, p.dose_value, p.dose_unit, p.minutes))
        return actions.as_request(
            institution_id=self.institution_id,
            practitioner_id=self.practitioner_id,
            procedure_code=self.procedure_code.strip(),
            at=self.at,
            products=tuple(uses),
            device_ids=tuple(self.device_ids),
            supervisor_id=self.supervisor_id,
            anesthetist_id=self.anesthetist_id,
            anesthesia=str(self.anesthesia) if self.anesthesia else None,
        )


class ReasonOut(BaseModel):  # plain pydantic: built from dicts on every decision (no ORM attributes)
    code: str
    severity: str
    message: str
    messages: dict[str, str]
    rule: RuleRefOut
    facts: dict[str, str]


class DecisionOut(BaseModel):  # plain pydantic: built field by field from the log row and the decision
    id: int | None  # None for a simulation (not recorded)
    recorded: bool = True  # False: a what-if by someone who is not the institution's staff (e.g. an auditor)
    outcome: str
    allowed: bool
    institution_id: int
    practitioner_id: int
    procedure_code: str
    at: dt.datetime
    rule_pack: str
    reasons: list[ReasonOut]

    @staticmethod
    def of(row: DecisionLog, decision: Decision, *, recorded: bool = True) -> "DecisionOut":
        return DecisionOut(
            id=row.pk if recorded else None,
            recorded=recorded,
            outcome=str(decision.outcome),
            allowed=decision.allowed,
            institution_id=row.institution_id,
            practitioner_id=row.practitioner_id,
            procedure_code=row.procedure_code,
            at=row.at,
            rule_pack=row.rule_pack,
            reasons=[ReasonOut(**r) for r in actions.reasons_out(decision)],
        )


@router.post(
    "/decisions",
    response={200: DecisionOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="授权核验 / Decide",
)
def create_decision(request: HttpRequest, payload: DecisionIn) -> DecisionOut:
    """May this practitioner perform this procedure, with these lots and devices, here, now? Every reason is listed.

    Recorded in the decision log only when asked by the institution's staff (or its HIS token); an overseeing
    auditor or a platform admin gets the same answer as a simulation (`recorded: false`, `id: null`)."""
    charge_cost(request, ratelimit.api_cost_of_products([len(payload.products)]))
    actor = request.actor  # type: ignore[attr-defined]
    checked = actions.check(actor, payload.to_request(actor), channel=DecisionChannel.API)  # type: ignore[attr-defined]
    return DecisionOut.of(checked.log, checked.decision, recorded=checked.recorded)


class BatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    # Documented as DecisionIn items, validated one by one in the handler (a bad item fails only itself).
    requests: Annotated[list[DecisionIn], SkipValidation] = Field(
        ...,
        description=(
            "1–1000 个核验请求(DecisionIn),逐项校验:格式有误的项目只在其结果中报错,其余照常核验。"
            "总成本 Σ(1 + 产品数 + 设备数) 不得超过 %d。" % BATCH_COST_MAX
        ),
        json_schema_extra={"minItems": 1, "maxItems": BATCH_MAX},
    )


class BatchItemOut(Schema):
    index: int = Field(..., description="请求在 requests 中的位置(从 0 开始)")
    decision: DecisionOut | None = None
    error: ErrorOut | None = Field(
        None, description="该项的错误(格式错误 422 INVALID、对象不存在 NOT_FOUND 等)"
    )


class BatchOut(Schema):
    results: list[BatchItemOut]
    allowed: int
    denied: int
    errors: int


def _product_count(item: Any) -> int:
    products = item.get("products") if isinstance(item, dict) else None
    return len(products) if isinstance(products, list) else 0


def batch_cost(items: list[Any]) -> int:
    """What a batch costs to decide: each item, each lot and each device loaded."""
    cost = 0
    for item in items:
        cost += 1
        if isinstance(item, dict):
            for key in ("products", "device_ids"):
                value = item.get(key)
                cost += len(value) if isinstance(value, list) else 0
    return cost


def _item_error(exc: PydanticValidationError) -> ErrorOut:
    errors = [
        {
            "field": field_path(e.get("loc")),
            "code": str(e.get("type", "invalid")),
            "message": pydantic_message(dict(e)),
        }
        for e in exc.errors()
    ]
    first = errors[0]
    message = gettext("输入有误:%(field)s:%(message)s") % first
    return ErrorOut(
        code="INVALID", message=message, field=first["field"], errors=[ErrorItemOut(**e) for e in errors]
    )


@router.post(
    "/decisions/batch", response={200: BatchOut, 401: ErrorOut, 422: ErrorOut}, summary="批量核验 / Batch"
)
def create_decisions_batch(request: HttpRequest, payload: BatchIn) -> BatchOut:
    """Up to 1,000 requests; each is validated and decided on its own: a malformed item or an unknown id fails
    only its own item (``error`` with its ``index``), the others are decided."""
    actor = request.actor  # type: ignore[attr-defined]
    raw_items: Any = payload.requests
    if not isinstance(raw_items, list):
        raise FieldErrors({"requests": [gettext("应为列表")]})
    if not 1 <= len(raw_items) <= BATCH_MAX:
        raise FieldErrors({"requests": [gettext("须包含 1 至 %(n)s 项") % {"n": BATCH_MAX}]})
    cost = batch_cost(raw_items)
    if cost > BATCH_COST_MAX:
        raise ActionError(
            "BATCH_TOO_LARGE",
            gettext("批量核验过大:成本 %(cost)s(每项 1 + 产品数 + 设备数)超过上限 %(max)s,请拆分后提交")
            % {"cost": cost, "max": BATCH_COST_MAX},
            field="requests",
            status=422,
        )
    charge_cost(request, ratelimit.api_cost_of_products([_product_count(raw) for raw in raw_items]))
    invalid: dict[int, ErrorOut] = {}
    reqs: list[DecisionRequest | NotFoundField | ActionError] = []
    for i, raw in enumerate(raw_items):
        try:
            item = DecisionIn.model_validate(raw)
        except PydanticValidationError as exc:
            invalid[i] = _item_error(exc)
            reqs.append(ActionError("INVALID", invalid[i].message, status=422))
            continue
        try:
            reqs.append(item.to_request(actor))
        except (NotFoundField, ActionError) as exc:
            reqs.append(exc)
    items = actions.check_batch(actor, reqs)
    out: list[BatchItemOut] = []
    for item_result in items:
        if item_result.checked is not None:
            out.append(
                BatchItemOut(
                    index=item_result.index,
                    decision=DecisionOut.of(
                        item_result.checked.log,
                        item_result.checked.decision,
                        recorded=item_result.checked.recorded,
                    ),
                    error=None,
                )
            )
        elif item_result.index in invalid:
            out.append(BatchItemOut(index=item_result.index, error=invalid[item_result.index]))
        else:
            error = item_result.error
            assert error is not None
            field = getattr(error, "field", None)
            code = "NOT_FOUND" if isinstance(error, NotFoundField) else getattr(error, "code", "INVALID")
            message = actions.error_message(error)
            details = list(getattr(error, "details", []) or [])
            if isinstance(error, FieldErrors):
                details = [
                    {"field": f, "code": "invalid", "message": str(m)}
                    for f, ms in error.errors.items()
                    for m in ms
                ]
            out.append(
                BatchItemOut(
                    index=item_result.index,
                    error=ErrorOut(
                        code=code, message=message, field=field, errors=[ErrorItemOut(**d) for d in details]
                    ),
                )
            )
    allowed = sum(1 for o in out if o.decision and o.decision.allowed)
    denied = sum(1 for o in out if o.decision and not o.decision.allowed)
    return BatchOut(results=out, allowed=allowed, denied=denied, errors=sum(1 for o in out if o.error))


class DecisionFilter(FilterIn):
    institution_id: int | None = None
    practitioner_id: int | None = None
    procedure_code: str | None = Field(None, max_length=64)
    outcome: Literal["allow", "allow_with_warnings", "deny"] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class DecisionRowOut(Schema):
    id: int
    outcome: str
    institution_id: int
    practitioner_id: int
    procedure_code: str
    at: dt.datetime
    reason_codes: list[str]
    rule_pack: str
    actor_label: str
    channel: str
    created_at: dt.datetime


@router.get("/decisions", response=list[DecisionRowOut], summary="核验记录 / Decision log")
@paginate(Pagination)
def list_decisions(request: HttpRequest, filters: Query[DecisionFilter]) -> Any:
    f = filters
    qs = queries.decisions(
        request.actor,  # type: ignore[attr-defined]
        queries.DecisionFilters(
            institution_id=f.institution_id,
            practitioner_id=f.practitioner_id,
            procedure_code=f.procedure_code or "",
            outcome=f.outcome or "",
        ),
    )
    if f.since:
        qs = qs.filter(at__gte=f.since)
    if f.until:
        qs = qs.filter(at__lt=f.until)
    return qs


@router.get("/decisions/{decision_id}", response={200: DecisionOut, 404: ErrorOut}, summary="核验详情")
def get_decision(request: HttpRequest, decision_id: int) -> DecisionOut:
    result = actions.replay(request.actor, decision_id)  # type: ignore[attr-defined]
    return DecisionOut.of(result.log, result.recorded)


class ReplayOut(Schema):
    recorded: DecisionOut
    replayed: DecisionOut
    reproducible: bool
    current: DecisionOut | None
    current_error: str
    changed_since: list[str]


@router.get(
    "/decisions/{decision_id}/replay", response={200: ReplayOut, 404: ErrorOut}, summary="重放 / Replay"
)
def replay_decision(request: HttpRequest, decision_id: int) -> ReplayOut:
    """Why was this allowed then? The recorded decision, the same request replayed on the facts stored with it,
    and what today's data would say about that moment."""
    r = actions.replay(request.actor, decision_id)  # type: ignore[attr-defined]
    current = DecisionOut.of(r.log, r.current) if r.current is not None else None
    changed = sorted(set(r.current.codes()) ^ set(r.recorded.codes())) if r.current is not None else []
    return ReplayOut(
        recorded=DecisionOut.of(r.log, r.recorded),
        replayed=DecisionOut.of(r.log, r.replayed),
        reproducible=r.reproducible,
        current=current,
        current_error=r.current_error,
        changed_since=changed,
    )


# ---- authorization archive ---------------------------------------------------------------------


class AuthorizationIn(In):
    institution_id: int = Field(..., ge=1)
    kind: AuthorizationKind
    practitioner_id: int | None = Field(None, ge=1)
    grantee_institution_id: int | None = Field(None, ge=1)
    grantor: str = Field("", max_length=128)
    procedure_code: str = Field("", max_length=64)
    procedure_category: str = Field("", max_length=32)
    subject: str = Field("", max_length=32)
    product_brand: str = Field("", max_length=128)
    device_model: str = Field("", max_length=128)
    technology_name: str = Field("", max_length=128)
    technology_kind: TechnologyKind | Literal[""] = ""
    scope_note: str = Field("", max_length=2000)
    valid_from: dt.date
    valid_until: dt.date | None = None
    max_grade: int | None = Field(None, ge=1, le=4)
    supervisor_id: int | None = Field(None, ge=1)
    conditions_note: str = Field("", max_length=2000)
    activate: bool = False


class AuthorizationOut(Schema):
    id: int
    kind: str
    status: str
    institution_id: int
    practitioner_id: int | None
    grantee_institution_id: int | None
    grantor: str
    procedure_code: str
    procedure_category: str
    subject: str
    product_brand: str
    device_model: str
    technology_name: str
    technology_kind: str
    scope_note: str
    valid_from: dt.date
    valid_until: dt.date | None
    max_grade: int | None
    supervisor_id: int | None
    conditions_note: str
    status_reason: str
    renews_id: int | None


class AuthorizationDetailOut(AuthorizationOut):
    beyond_institution: list[ReasonOut] = Field(
        default_factory=list,
        description="资质授权超出机构可开展范围的原因(诊疗科目未登记、手术级别超出);有原因时只能保存为草稿,不能生效",
    )

    @staticmethod
    def resolve_beyond_institution(obj: Authorization) -> list[dict[str, Any]]:
        return [reason_dict(r) for r in actions.shown_scope_reasons(obj)]


class AuthorizationFilter(FilterIn):
    institution_id: int | None = None
    practitioner_id: int | None = None
    kind: AuthorizationKind | None = None
    status: AuthorizationStatus | None = None
    procedure_code: str | None = Field(None, max_length=64)
    valid_on: dt.date | None = None
    expiring_before: dt.date | None = None


@router.get("/authorizations", response=list[AuthorizationOut], summary="授权档案 / Authorizations")
@paginate(Pagination)
def list_authorizations(request: HttpRequest, filters: Query[AuthorizationFilter]) -> Any:
    qs = Authorization.objects.visible_to(request.actor)  # type: ignore[attr-defined]
    f = filters
    for name in ("institution_id", "practitioner_id", "kind", "status", "procedure_code"):
        value = getattr(f, name)
        if value:
            qs = qs.filter(**{name: value})
    if f.valid_on:
        qs = qs.filter(valid_from__lte=f.valid_on).exclude(valid_until__lt=f.valid_on)
    if f.expiring_before:
        qs = qs.filter(valid_until__lt=f.expiring_before, status=AuthorizationStatus.ACTIVE)
    return qs.order_by("-valid_from", "-pk")


@router.post(
    "/authorizations",
    response={201: AuthorizationDetailOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def create_authorization(request: HttpRequest, payload: AuthorizationIn) -> tuple[int, Authorization]:
    data = payload.dict(exclude={"institution_id", "activate"})
    data["kind"] = str(data["kind"])
    data["technology_kind"] = str(data["technology_kind"] or "")
    auth = actions.create_authorization(
        request.actor,  # type: ignore[attr-defined]
        institution_id=payload.institution_id,
        data=data,
        activate=payload.activate,  # type: ignore[attr-defined]
    )
    return 201, auth


@router.get("/authorizations/{auth_id}", response={200: AuthorizationDetailOut, 404: ErrorOut})
def get_authorization(request: HttpRequest, auth_id: int) -> Authorization:
    return get_object_or_404(Authorization.objects.visible_to(request.actor), pk=auth_id)  # type: ignore[attr-defined]


class TransitionIn(In):
    action: Literal["activate", "suspend", "reinstate", "revoke"]
    reason: str = Field("", max_length=2000)


@router.post(
    "/authorizations/{auth_id}/transitions",
    response={200: AuthorizationOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="授权状态变更:activate / suspend / reinstate / revoke",
)
def change_authorization(request: HttpRequest, auth_id: int, payload: TransitionIn) -> Authorization:
    return actions.change_status(request.actor, auth_id, action=payload.action, reason=payload.reason)  # type: ignore[attr-defined]


class RenewIn(In):
    valid_until: dt.date | None = None
    reason: str = Field("", max_length=2000)


@router.post(
    "/authorizations/{auth_id}/renewal",
    response={201: AuthorizationOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def renew_authorization(request: HttpRequest, auth_id: int, payload: RenewIn) -> tuple[int, Authorization]:
    actor = request.actor  # type: ignore[attr-defined]
    return 201, actions.renew_authorization(
        actor, auth_id, valid_until=payload.valid_until, reason=payload.reason
    )
