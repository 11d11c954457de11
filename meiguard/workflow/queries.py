"""Every read of the workflow app, tenant-scoped through ``visible_to`` / ``writable_by``.

Public for other apps (keep the signatures): ``pending_for(actor)`` — the open approval steps this actor
may act on now — and ``applications(actor, **filters)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError
from meiguard.core.models import User
from meiguard.notify.services import users_with_roles
from meiguard.registry.models import Institution, Practitioner, PractitionerSite, Product
from meiguard.rules.services import Procedure, ResolvedPack, resolve

from .choices import (
    APPLY_ROLES,
    COMMITTEE_WRITERS,
    ON_BEHALF_ROLES,
    STAGE_ROLES,
    ApplicationStatus,
    Stage,
    StepStatus,
)
from .models import Application, ApprovalStep, ApprovalVote, Evidence, ExpertCommittee
from .policy import ProcedureInfo, ProductInfo, ScopeFacts

MEMBERS = ExpertCommittee.members.through

# ---- applications ------------------------------------------------------------------------------

VIEWS = ("all", "mine", "to_approve")


def applications(
    actor: Actor,
    *,
    view: str = "all",
    status: str = "",
    institution_id: int | None = None,
    practitioner_id: int | None = None,
    kind: str = "",
    risk_level: str = "",
) -> QuerySet[Application]:
    """Applications the actor may see. ``view``: all / mine (filed by me or about me) / to_approve."""
    qs = Application.objects.visible_to(actor)
    if view == "mine":
        if actor.user_id is None:
            return qs.none()
        qs = qs.filter(Q(applicant_id=actor.user_id) | Q(practitioner__user_id=actor.user_id))
    elif view == "to_approve":
        qs = qs.filter(pk__in=pending_for(actor).values("application_id"))
    if status:
        qs = qs.filter(status=status)
    if institution_id:
        qs = qs.filter(institution_id=institution_id)
    if practitioner_id:
        qs = qs.filter(practitioner_id=practitioner_id)
    if kind:
        qs = qs.filter(kind=kind)
    if risk_level:
        qs = qs.filter(risk_level=risk_level)
    return qs.select_related("institution", "practitioner", "applicant").order_by("-created_at", "-pk")


def application(actor: Actor, pk: int) -> Application:
    app = (
        Application.objects.visible_to(actor)
        .select_related("institution", "practitioner", "applicant", "supervisor", "authorization")
        .filter(pk=pk)
        .first()
    )
    if app is None:
        raise NotFoundField("id")
    return app


def can_manage(actor: Actor, app: Application) -> bool:
    """May edit, attach evidence to and submit the application: its applicant only."""
    return actor.user_id is not None and app.applicant_id == actor.user_id and app.is_editable


def can_withdraw(actor: Actor, app: Application) -> bool:
    if app.status not in (ApplicationStatus.DRAFT, ApplicationStatus.RETURNED, ApplicationStatus.IN_REVIEW):
        return False
    if actor.user_id is not None and app.applicant_id == actor.user_id:
        return True
    return actor.can_write_org(app.institution.organization_id, COMMITTEE_WRITERS)


# ---- who may apply, for whom -------------------------------------------------------------------


def institutions_for_apply(actor: Actor) -> list[Institution]:
    """Institutions where the actor may file applications (a doctor / nurse / managing role there)."""
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    return [i for i in qs if actor.can_write_org(i.organization_id, APPLY_ROLES)]


def registered_at(institution_id: int, on: dt.date) -> Q:
    sites = PractitionerSite.objects.filter(institution_id=institution_id, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    return Q(main_institution_id=institution_id) | Q(pk__in=sites.values("practitioner_id"))


def practitioners_for_apply(actor: Actor, institution_id: int | None = None) -> QuerySet[Practitioner]:
    """Visible practitioners the actor may apply for: anyone registered at an institution where the actor
    holds a managing role; only themselves where they are a doctor or nurse."""
    today = timezone.localdate()
    places = institutions_for_apply(actor)
    if institution_id is not None:
        places = [i for i in places if i.pk == institution_id]
    q = Q(pk__in=[])
    for inst in places:
        if actor.can_write_org(inst.organization_id, ON_BEHALF_ROLES):
            q |= registered_at(inst.pk, today)
        elif actor.user_id is not None:
            q |= registered_at(inst.pk, today) & Q(user_id=actor.user_id)
    return (
        Practitioner.objects.visible_to(actor)
        .filter(q)
        .select_related("main_institution")
        .order_by("name", "pk")
    )


def procedure_options(places: list[Institution]) -> tuple[list[tuple[str, str]], list[str]]:
    """(code, label) of the procedures in the rule pack in force for the first institution, and the categories."""
    if not places:
        return [], []
    try:
        pack = resolve(places[0].province, timezone.localdate())
    except ActionError:
        return [], []
    procs = sorted(pack.procedures.values(), key=lambda p: (p.subject, p.grade or 0, p.code))
    options = [(p.code, f"{p.name} · {p.grade or '-'}") for p in procs]
    return options, sorted({p.category for p in procs})


def brand_options() -> list[str]:
    rows = Product.objects.values_list("brand_name", "generic_name")
    return sorted({brand or generic for brand, generic in rows})


def supervisors_for(actor: Actor) -> QuerySet[Practitioner]:
    return (
        Practitioner.objects.visible_to(actor)
        .filter(profession="doctor")
        .select_related("main_institution")
        .order_by("name", "pk")
    )


# ---- approvals -----------------------------------------------------------------------------------


def excluded_users(app: Application) -> set[int]:
    """Separation of duties: neither the applicant nor the practitioner applied for may approve."""
    out = {app.applicant_id}
    if app.practitioner_id is not None and app.practitioner is not None and app.practitioner.user_id:
        out.add(app.practitioner.user_id)
    return out


def pending_for(actor: Actor) -> QuerySet[ApprovalStep]:
    """Open steps this actor may act on now: their role at the institution (医务科 / 授权专员) or their seat on
    the committee, not their own application, and not yet voted on by them."""
    if actor.user_id is None:
        return ApprovalStep.objects.none()
    uid = actor.user_id
    md_orgs = actor.org_ids_with_roles([Role.MEDICAL_DIRECTOR])
    co_orgs = actor.org_ids_with_roles([Role.COMPLIANCE_OFFICER])
    seats = MEMBERS.objects.filter(user_id=uid).values("expertcommittee_id")
    mine = (
        Q(stage=Stage.MEDICAL_DIRECTOR, application__institution__organization_id__in=md_orgs)
        | Q(stage=Stage.COMPLIANCE_OFFICER, application__institution__organization_id__in=co_orgs)
        | Q(stage=Stage.EXPERT_COMMITTEE, committee_id__in=seats)
    )
    return (
        ApprovalStep.objects.visible_to(actor)
        .filter(mine, status=StepStatus.OPEN, application__status=ApplicationStatus.IN_REVIEW)
        .exclude(application__applicant_id=uid)
        .exclude(application__practitioner__user_id=uid)
        .exclude(pk__in=ApprovalVote.objects.filter(user_id=uid).values("step_id"))
        .select_related(
            "application",
            "application__practitioner",
            "application__institution",
            "application__applicant",
            "committee",
        )
        .order_by("opened_at", "pk")
    )


def current_step(app: Application) -> ApprovalStep | None:
    return (
        ApprovalStep.objects.filter(application_id=app.pk, round=app.round, status=StepStatus.OPEN)
        .order_by("order")
        .first()
    )


def approver_ids(app: Application, stage: str, committee: ExpertCommittee | None) -> list[int]:
    """Everyone who may vote on a step of this stage for this application (for the pool and notifications)."""
    excluded = excluded_users(app)
    if stage == Stage.EXPERT_COMMITTEE:
        if committee is None:
            return []
        ids = committee.members.filter(is_active=True).values_list("pk", flat=True)
    else:
        ids = users_with_roles(app.institution.organization_id, [STAGE_ROLES[Stage(stage)]])  # type: ignore[assignment]
    return sorted(set(ids) - excluded)


def active_committee(institution_id: int) -> ExpertCommittee | None:
    return ExpertCommittee.objects.filter(institution_id=institution_id, is_active=True).first()


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    steps: list[ApprovalStep]


def timeline(app: Application) -> list[Round]:
    """Every round's steps with their votes (newest round first)."""
    steps = list(
        ApprovalStep.objects.filter(application_id=app.pk)
        .select_related("committee")
        .prefetch_related(Prefetch("votes", queryset=ApprovalVote.objects.select_related("user")))
        .order_by("-round", "order")
    )
    rounds: dict[int, list[ApprovalStep]] = {}
    for step in steps:
        rounds.setdefault(step.round, []).append(step)
    return [Round(n, s) for n, s in rounds.items()]


# ---- evidence ------------------------------------------------------------------------------------


def evidence(app: Application) -> list[Evidence]:
    return list(
        Evidence.objects.filter(application_id=app.pk, removed_at__isnull=True)
        .select_related("qualification", "uploaded_by")
        .order_by("created_at", "pk")
    )


def evidence_for(application_ids: list[int]) -> list[Evidence]:
    """The current evidence of several applications (the inbox's rows) in one query."""
    return list(
        Evidence.objects.filter(application_id__in=application_ids, removed_at__isnull=True)
        .select_related("qualification")
        .order_by("application_id", "created_at", "pk")
    )


def evidence_item(actor: Actor, application_id: int, pk: int) -> Evidence:
    item = (
        Evidence.objects.visible_to(actor)
        .filter(pk=pk, application_id=application_id)
        .select_related("application")
        .first()
    )
    if item is None:
        raise NotFoundField("evidence_id")
    return item


# ---- audit history ---------------------------------------------------------------------------------


def history(actor: Actor, app: Application, limit: int = 200) -> list[AuditEntry]:
    """The application's audit trail: itself, its evidence and steps, and the authorization it produced."""
    q = Q(object_type="workflow.application", object_id=str(app.pk))
    step_ids = [
        str(pk) for pk in ApprovalStep.objects.filter(application_id=app.pk).values_list("pk", flat=True)
    ]
    evidence_ids = [
        str(pk) for pk in Evidence.objects.filter(application_id=app.pk).values_list("pk", flat=True)
    ]
    if step_ids:
        q |= Q(object_type="workflow.approvalstep", object_id__in=step_ids)
    if evidence_ids:
        q |= Q(object_type="workflow.evidence", object_id__in=evidence_ids)
    if app.authorization_id:
        q |= Q(object_type="authz.authorization", object_id=str(app.authorization_id))
    return list(AuditEntry.objects.visible_to(actor).filter(q).order_by("-created_at", "-seq")[:limit])


# ---- committees --------------------------------------------------------------------------------------


def committees(actor: Actor) -> QuerySet[ExpertCommittee]:
    return (
        ExpertCommittee.objects.visible_to(actor)
        .select_related("institution")
        .prefetch_related("members")
        .order_by("institution__name", "pk")
    )


def committee_institutions(actor: Actor) -> list[Institution]:
    """Institutions whose committee the actor may configure."""
    qs = Institution.objects.visible_to(actor).order_by("name", "pk")
    return [i for i in qs if actor.can_write_org(i.organization_id, COMMITTEE_WRITERS)]


def member_candidates(institution: Institution) -> QuerySet[User]:
    """Users with an active membership at the institution's organisation."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__organization_id=institution.organization_id,
            memberships__is_active=True,
        )
        .distinct()
        .order_by("username")
    )


# ---- scope facts for the risk assessment -----------------------------------------------------------


def covered_procedures(
    pack: ResolvedPack,
    *,
    procedure_code: str = "",
    procedure_category: str = "",
    subject: str = "",
    max_grade: int | None = None,
) -> list[Procedure]:
    """The pack's procedures a qualification scope covers (as ``authz.policy._covers_procedure`` matches them),
    without those above ``max_grade`` (the engine denies those with AUTHORIZATION_GRADE_LIMIT)."""
    if procedure_code:
        procs = [pack.procedures[procedure_code]] if procedure_code in pack.procedures else []
    elif procedure_category:
        procs = [
            p
            for p in pack.procedures.values()
            if p.category == procedure_category and subject in ("", p.subject)
        ]
    elif subject:
        procs = [p for p in pack.procedures.values() if p.subject == subject]
    else:
        procs = []
    if max_grade is not None:
        procs = [p for p in procs if p.grade is None or p.grade <= max_grade]
    return sorted(procs, key=lambda p: (p.subject, p.grade or 0, p.code))


def products_named(target: str) -> list[Product]:
    """Registry products whose brand (brand name, else generic name) is ``target``: shared reference data."""
    if not target:
        return []
    return list(
        Product.objects.filter(Q(brand_name=target) | Q(brand_name="", generic_name=target))
        .select_related("supplier")
        .order_by("pk")
    )


def scope_facts(app: Application, pack: ResolvedPack | None) -> ScopeFacts:
    procs: Iterable[Procedure] = ()
    if app.kind == "qualification" and pack is not None:
        procs = covered_procedures(
            pack,
            procedure_code=app.procedure_code,
            procedure_category=app.procedure_category,
            subject=app.subject,
            max_grade=app.max_grade,
        )
    target = {
        "product": app.product_brand,
        "device": app.device_model,
        "technology": app.technology_name,
    }.get(app.kind, "")
    products: list[Product] = products_named(target) if app.kind in ("product", "device") else []
    return ScopeFacts(
        kind=app.kind,
        procedures=tuple(
            ProcedureInfo(p.code, p.subject, p.category, p.grade, p.invasiveness) for p in procs
        ),
        products=tuple(
            ProductInfo(str(p), p.brand_name or p.generic_name, p.kind, p.risk_class, p.high_risk)
            for p in products
        ),
        target=target,
        technology_kind=app.technology_kind,
    )


def evaluation_date(app: Application, today: dt.date | None = None) -> dt.date:
    """The day the requested authorization is judged on: its first day, or today if that has passed."""
    today = today or timezone.localdate()
    return max(today, app.valid_from)
