"""“What's still missing”: the requested scope judged by the decision engine as if it were granted.

Nothing here re-implements a rule. The practitioner's snapshot is loaded by ``authz.snapshot`` (same access
check, same facts and cache as a point-of-care check), the requested authorization is added to it as if it
were already active, and ``authz.policy.decide`` runs the engine's own checks for every procedure the scope
covers (qualification), or for the brand's products (product / device). Whatever the engine still denies —
licence, 主诊 filing, training, institution subjects or grade, product registration, supplier — is a gap,
shown with the rule it comes from. The workflow adds its own few gaps (an overlapping authorization, an
unknown product, a term that has ended) and the evidence the applicant has not attached yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy

from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot as snapshots
from meiguard.authz.facts import (
    CHINA_TZ,
    AuthorizationFacts,
    DecisionRequest,
    DeviceFacts,
    LotFacts,
    PractitionerFacts,
    ProductFacts,
    ProductUse,
    Snapshot,
)
from meiguard.authz.models import Authorization
from meiguard.authz.policy import (
    PRACTITIONER_CHECKS,
    Check,
    Reason,
    Severity,
    check_devices,
    check_institution,
    check_lots,
    check_practitioner,
    decide,
)
from meiguard.authz.reasons import reason_message
from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.registry.models import Device, DistributionAuthorization, Institution, Product
from meiguard.rules.services import ResolvedPack, RuleRef, resolve
from meiguard.rules.sources import cites, source_text

from . import queries
from .choices import Stage
from .models import Application, Evidence, ExpertCommittee
from .policy import NoCommittee, Risk, StepSpec, assess_risk, missing_evidence, route
from .reasons import gap_message, routing_message

HYPOTHETICAL_ID = 0  # the requested authorization inside the snapshot; never a real row id
SRC_OVERLAP = gettext_lazy("授权档案:同一范围不得有两个期限重叠的生效授权")
SRC_REGISTRY = source_text(cites("device-regulation 第五十五条"))
SRC_TERM = source_text(cites("core-systems-2018 手术分级管理制度"))


@dataclass(frozen=True, slots=True)
class Gap:
    """One thing that would still stop the practitioner after the grant (deny) or deserves a look (warn)."""

    code: str
    severity: str  # "deny" | "warn"
    message: str
    source: str
    rule: RuleRef | None = None
    procedures: tuple[str, ...] = ()
    from_engine: bool = True

    @property
    def blocking(self) -> bool:
        return self.severity == Severity.DENY


@dataclass(frozen=True, slots=True)
class PlannedStep:
    stage: str
    required: int
    pool: int
    committee: ExpertCommittee | None = None


@dataclass(frozen=True, slots=True)
class RoutingProblem:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Preview:
    on: dt.date
    risk: Risk
    gaps: tuple[Gap, ...] = ()
    missing_evidence: tuple[str, ...] = ()
    route: tuple[PlannedStep, ...] = ()
    routing_problems: tuple[RoutingProblem, ...] = ()
    procedures_checked: int = 0
    rule_pack: str = ""
    error: str = ""
    attached: tuple[str, ...] = field(default=())

    @property
    def blocking(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if g.blocking)

    @property
    def warnings(self) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if not g.blocking)

    def codes(self) -> list[str]:
        return [g.code for g in self.gaps]

    @property
    def can_submit(self) -> bool:
        return not self.routing_problems and not self.error


# ---- routing -----------------------------------------------------------------------------------


def plan_route(app: Application, level: str) -> tuple[tuple[PlannedStep, ...], tuple[RoutingProblem, ...]]:
    """The steps the application would go through, with who could vote, and anything that makes the route
    impossible (no committee for a high-risk application, nobody eligible for a stage)."""
    committee = queries.active_committee(app.institution_id)
    try:
        specs: tuple[StepSpec, ...] = route(level, committee_quorum=committee.quorum if committee else None)
    except NoCommittee:
        return (), (RoutingProblem("NO_COMMITTEE", routing_message("NO_COMMITTEE", {})),)
    steps: list[PlannedStep] = []
    problems: list[RoutingProblem] = []
    for spec in specs:
        is_committee = spec.stage == Stage.EXPERT_COMMITTEE
        pool = len(queries.approver_ids(app, spec.stage, committee if is_committee else None))
        steps.append(PlannedStep(spec.stage, spec.required, pool, committee if is_committee else None))
        if is_committee and pool < spec.required:
            problems.append(
                RoutingProblem(
                    "COMMITTEE_TOO_SMALL",
                    routing_message("COMMITTEE_TOO_SMALL", {"pool": pool, "quorum": spec.required}),
                )
            )
        elif not is_committee and pool == 0:
            problems.append(
                RoutingProblem(
                    "NO_APPROVER", routing_message("NO_APPROVER", {"stage": Stage(spec.stage).label})
                )
            )
    return tuple(steps), tuple(problems)


def beyond_institution(app: Application, on: dt.date) -> ActionError | None:
    """The refusal a qualification application gets when its institution cannot offer the scope (subject not
    registered, grade above the permitted one): the same check and reasons as activating the authorization."""
    if app.kind != "qualification":
        return None
    reasons = authz_actions.institution_scope_reasons(
        app.institution,
        on=on,
        procedure_code=app.procedure_code,
        procedure_category=app.procedure_category,
        subject=app.subject,
        max_grade=app.max_grade,
    )
    return authz_actions.beyond_institution_error(reasons, app) if reasons else None


# ---- engine facts ------------------------------------------------------------------------------


def _noon(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(12), tzinfo=CHINA_TZ)


def hypothetical(app: Application) -> AuthorizationFacts:
    """The requested authorization as the engine would see it once granted."""
    return AuthorizationFacts(
        id=HYPOTHETICAL_ID,
        kind=app.kind,
        institution_id=app.institution_id,
        practitioner_id=app.practitioner_id,
        status="active",
        valid_from=app.valid_from,
        valid_until=app.valid_until,
        procedure_code=app.procedure_code,
        procedure_category=app.procedure_category,
        subject=app.subject,
        product_brand=app.product_brand,
        device_model=app.device_model,
        max_grade=app.max_grade,
        supervisor_id=app.supervisor_id,
    )


def _product_facts(product: Product) -> ProductFacts:
    brand = product.brand_name or product.generic_name
    windows = tuple(
        DistributionAuthorization.objects.filter(supplier_id=product.supplier_id, brand=brand)
        .order_by("pk")
        .values_list("valid_from", "valid_until")
    )
    return ProductFacts(
        id=product.pk,
        name=f"{brand} ({product.registration_no})",
        brand=brand,
        kind=product.kind,
        registration_no=product.registration_no,
        registration_valid_until=product.registration_valid_until,
        high_risk=product.high_risk,
        ingredient=product.category,
        dose_unit=product.dose_unit,
        supplier_id=product.supplier_id,
        distribution_windows=windows,
    )


def _any_code(pack: ResolvedPack, inst: Institution) -> str:
    """A procedure to load the practitioner's snapshot with (its pack facts are not used by the checks run)."""
    codes = sorted(p.code for p in pack.procedures.values() if p.subject in inst.subjects)
    return codes[0] if codes else sorted(pack.procedures)[0]


def _institution_only(inst: Institution, pack: ResolvedPack, code: str) -> Snapshot:
    """A snapshot for an institution-level request (a technology granted to the institution itself)."""
    return Snapshot(
        pack=snapshots.pack_facts(pack, inst, code),
        institution=snapshots.institution_facts(inst),
        practitioner=PractitionerFacts(
            id=0,
            name="",
            profession="",
            status="active",
            practice_scopes=frozenset(),
            title_rank=0,
            main_institution_id=inst.pk,
        ),
    )


class _Collector:
    """Group the engine's reasons by code and rule, remembering which procedures each one concerns."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, RuleRef, str], tuple[Reason, list[str]]] = {}

    def add(self, reasons: tuple[Reason, ...], procedure: str = "") -> None:
        for r in reasons:
            if r.fact("authorization") == str(HYPOTHETICAL_ID):
                continue  # about the requested grant itself (its term): reported as a workflow gap
            key = (r.code, r.rule, str(r.severity))
            _first, procs = self.groups.setdefault(key, (r, []))
            if procedure and procedure not in procs:
                procs.append(procedure)

    def gaps(self) -> list[Gap]:
        out = []
        for (code, rule, severity), (first, procs) in self.groups.items():
            out.append(
                Gap(
                    code=code,
                    severity=severity,
                    message=reason_message(first),
                    source=str(rule),
                    rule=rule,
                    procedures=tuple(procs),
                )
            )
        out.sort(key=lambda g: (g.severity != Severity.DENY, g.code))
        return out


def _engine_gaps(actor: Actor, app: Application, pack: ResolvedPack, on: dt.date) -> tuple[list[Gap], int]:
    inst = app.institution
    at = _noon(on)
    hypo = hypothetical(app)
    collected = _Collector()
    extra: list[Gap] = []
    checked = 0
    if app.kind == "qualification":
        procs = queries.covered_procedures(
            pack,
            procedure_code=app.procedure_code,
            procedure_category=app.procedure_category,
            subject=app.subject,
            max_grade=app.max_grade,
        )
        if not procs:
            return [
                Gap("SCOPE_EMPTY", Severity.DENY, gap_message("SCOPE_EMPTY", {}), SRC_TERM, from_engine=False)
            ], 0
        assert app.practitioner_id is not None
        base = DecisionRequest(
            inst.pk, app.practitioner_id, procs[0].code, at, supervisor_id=app.supervisor_id
        )
        snap = snapshots.load(actor, base)
        snap = dataclasses.replace(snap, authorizations=(*snap.authorizations, hypo))
        for proc in procs:
            req = dataclasses.replace(base, procedure_code=proc.code)
            decision = decide(
                req,
                dataclasses.replace(snap, pack=snapshots.pack_facts(pack, inst, proc.code)),
                PRACTITIONER_CHECKS,
            )
            collected.add(decision.reasons, proc.code)
        checked = len(procs)
    elif app.kind in ("product", "device"):
        target = app.product_brand if app.kind == "product" else app.device_model
        products = queries.products_named(target)
        if not products:
            extra.append(
                Gap(
                    "PRODUCT_NOT_IN_REGISTRY",
                    Severity.DENY,
                    gap_message("PRODUCT_NOT_IN_REGISTRY", {"brand": target}),
                    SRC_REGISTRY,
                    from_engine=False,
                )
            )
        assert app.practitioner_id is not None
        base = DecisionRequest(inst.pk, app.practitioner_id, _any_code(pack, inst), at)
        snap = snapshots.load(actor, base)
        snap = dataclasses.replace(snap, authorizations=(*snap.authorizations, hypo))
        checks: tuple[Check, ...] = (check_institution, check_practitioner)
        req = base
        if products and app.kind == "product":
            lots = tuple(
                LotFacts(-(i + 1), target, inst.pk, dt.date.max, "available", None, _product_facts(p))
                for i, p in enumerate(products)
            )
            snap = dataclasses.replace(snap, lots=lots)
            req = dataclasses.replace(base, products=tuple(ProductUse(lot.id) for lot in lots))
            checks = (*checks, check_lots)
        elif products:
            devices = tuple(
                DeviceFacts(-(i + 1), target, inst.pk, "active", target, None, None, _product_facts(p))
                for i, p in enumerate(products)
            )
            snap = dataclasses.replace(snap, devices=devices)
            req = dataclasses.replace(base, device_ids=tuple(d.id for d in devices))
            checks = (*checks, check_devices)
            if not Device.objects.filter(institution_id=inst.pk, product__in=products).exists():
                extra.append(
                    Gap(
                        "DEVICE_NOT_AT_INSTITUTION",
                        Severity.WARN,
                        gap_message("DEVICE_NOT_AT_INSTITUTION", {"model": target}),
                        SRC_REGISTRY,
                        from_engine=False,
                    )
                )
        collected.add(decide(req, snap, checks).reasons)
        checked = 1
    else:  # technology: the institution (and the practitioner, if one is named) must be in good standing
        code = _any_code(pack, inst)
        if app.practitioner_id is not None:
            base = DecisionRequest(inst.pk, app.practitioner_id, code, at)
            collected.add(
                decide(base, snapshots.load(actor, base), (check_institution, check_practitioner)).reasons
            )
        else:
            base = DecisionRequest(inst.pk, 0, code, at)
            collected.add(decide(base, _institution_only(inst, pack, code), (check_institution,)).reasons)
        checked = 1
    return extra + collected.gaps(), checked


def _overlap_gap(app: Application) -> Gap | None:
    if app.kind == "technology" or app.practitioner_id is None:
        return None
    probe = Authorization(
        kind=app.kind,
        institution_id=app.institution_id,
        practitioner_id=app.practitioner_id,
        procedure_code=app.procedure_code,
        procedure_category=app.procedure_category,
        subject=app.subject,
        product_brand=app.product_brand,
        device_model=app.device_model,
        technology_name=app.technology_name,
        valid_from=app.valid_from,
        valid_until=app.valid_until,
    )
    other = authz_actions.overlapping(probe)
    if other is None or other.pk == app.authorization_id:
        return None
    return Gap(
        "SCOPE_OVERLAP",
        Severity.DENY,
        gap_message("SCOPE_OVERLAP", {"authorization": other.pk}),
        str(SRC_OVERLAP),
        from_engine=False,
    )


def attached_kinds(app: Application) -> tuple[str, ...]:
    return tuple(
        sorted(
            set(
                Evidence.objects.filter(application_id=app.pk, removed_at__isnull=True).values_list(
                    "kind", flat=True
                )
            )
        )
    )


def build(actor: Actor, app: Application, *, today: dt.date | None = None) -> Preview:
    """The whole preview: risk and route, engine and workflow gaps, missing evidence. Never raises for a
    problem with the data (no rule pack in force, a practitioner gone): it reports it in ``error``."""
    today = today or timezone.localdate()
    on = queries.evaluation_date(app, today)
    attached = attached_kinds(app)
    try:
        pack = resolve(app.institution.province, on, app.institution_id)
    except ActionError as exc:
        risk = assess_risk(queries.scope_facts(app, None))
        return Preview(on, risk, error=str(exc.message), attached=attached)
    risk = assess_risk(queries.scope_facts(app, pack))
    steps, problems = plan_route(app, risk.level)
    beyond = beyond_institution(app, on)
    if beyond is not None:
        problems = (RoutingProblem(beyond.code, str(beyond.message)), *problems)
    gaps: list[Gap] = []
    if app.valid_until is not None and app.valid_until < today:
        gaps.append(
            Gap(
                "TERM_ENDED",
                Severity.DENY,
                gap_message("TERM_ENDED", {"valid_until": app.valid_until.isoformat()}),
                SRC_TERM,
                from_engine=False,
            )
        )
    error = ""
    checked = 0
    try:
        engine, checked = _engine_gaps(actor, app, pack, on)
        gaps.extend(engine)
    except (Http404, ActionError) as exc:
        error = str(getattr(exc, "message", "")) or authz_actions.error_message(exc)
    overlap = _overlap_gap(app)
    if overlap is not None:
        gaps.append(overlap)
    gaps.sort(key=lambda g: (not g.blocking, g.from_engine, g.code))
    return Preview(
        on=on,
        risk=risk,
        gaps=tuple(gaps),
        missing_evidence=missing_evidence(app.kind, risk.level, attached),
        route=steps,
        routing_problems=problems,
        procedures_checked=checked,
        rule_pack=pack.version_label,
        error=error,
        attached=attached,
    )
