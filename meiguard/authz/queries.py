"""Every read of the authz pages, tenant-scoped through ``visible_to`` / ``writable_by``.

Foreign and unknown ids look the same (404). ``capabilities`` answers "what may this practitioner do, and
where": one snapshot per institution, its facts re-used for every procedure, so the query count does not
grow with the number of procedures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from meiguard.audit.models import AuditEntry
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import Role
from meiguard.core.errors import ActionError
from meiguard.core.models import Membership
from meiguard.registry.models import Device, Institution, Lot, Practitioner, PractitionerSite
from meiguard.rules.choices import Subject
from meiguard.rules.services import Procedure, ResolvedPack, resolve

from . import snapshot as snapshots
from .choices import AuthorizationStatus
from .facts import CHINA_TZ, DecisionRequest
from .models import AUTHORIZATION_WRITERS, Authorization, DecisionLog
from .policy import PRACTITIONER_CHECKS, Decision, Outcome, Reason, Severity, decide
from .reasons import reason_message

# ---- check page choices ------------------------------------------------------------------------


def staff_checks(qs: QuerySet[DecisionLog]) -> QuerySet[DecisionLog]:
    """Only clinical checks: asked by the institution's own staff (or its HIS token) or a system job.

    New checks by anyone else are simulations and never logged (``actions.records_checks``); this also leaves
    out rows an auditor or outsider left in the log before that rule, so reviews never count them.
    """
    staff = Membership.objects.filter(
        user_id=OuterRef("asked_by_id"), organization_id=OuterRef("institution__organization_id")
    ).exclude(role=Role.AUDITOR)
    return qs.filter(Q(asked_by__isnull=True) | Q(Exists(staff)))


def institutions(actor: Actor) -> QuerySet[Institution]:
    return Institution.objects.visible_to(actor).order_by("name", "pk")


def institution(actor: Actor, pk: int | None) -> Institution | None:
    if pk is None:
        return None
    return institutions(actor).filter(pk=pk).first()


def writable_institutions(actor: Actor) -> list[Institution]:
    """Institutions where the actor may manage authorizations."""
    return [i for i in institutions(actor) if actor.can_write_org(i.organization_id, AUTHORIZATION_WRITERS)]


def _registered_at(institution_id: int, on: dt.date) -> Q:
    sites = PractitionerSite.objects.filter(institution_id=institution_id, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    return Q(main_institution_id=institution_id) | Q(pk__in=sites.values("practitioner_id"))


def practitioners_at(
    actor: Actor, institution_id: int, on: dt.date, *, profession: str | None = None
) -> QuerySet[Practitioner]:
    """Visible practitioners registered at the institution on ``on`` (main or a valid multi-site)."""
    qs = Practitioner.objects.visible_to(actor).filter(_registered_at(institution_id, on))
    if profession:
        qs = qs.filter(profession=profession)
    return qs.order_by("name", "pk")


def visible_practitioners(actor: Actor) -> QuerySet[Practitioner]:
    return Practitioner.objects.visible_to(actor).select_related("main_institution").order_by("name", "pk")


def lots_at(actor: Actor, institution_id: int) -> QuerySet[Lot]:
    return (
        Lot.objects.visible_to(actor)
        .filter(institution_id=institution_id)
        .select_related("product")
        .order_by("product__brand_name", "lot_no", "pk")
    )


def devices_at(actor: Actor, institution_id: int) -> QuerySet[Device]:
    return (
        Device.objects.visible_to(actor)
        .filter(institution_id=institution_id)
        .select_related("product")
        .order_by("pk")
    )


def procedure_groups(pack: ResolvedPack, subjects: Collection[str] = ()) -> list[tuple[str, list[Procedure]]]:
    """The pack's procedures grouped by subject (registered subjects first), each group by code."""
    labels = dict(Subject.choices)
    by_subject: dict[str, list[Procedure]] = {}
    for proc in pack.procedures.values():
        by_subject.setdefault(proc.subject, []).append(proc)
    order = sorted(by_subject, key=lambda s: (s not in subjects, s))
    return [
        (str(labels.get(s, s)), sorted(by_subject[s], key=lambda p: (p.grade or 0, p.code))) for s in order
    ]


# ---- capabilities ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    procedure: Procedure
    decision: Decision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome

    @property
    def main_reason(self) -> Reason | None:
        """The first deny reason (or, for an allowed item, the first warning)."""
        reasons = self.decision.reasons
        return next((r for r in reasons if r.severity == Severity.DENY), reasons[0] if reasons else None)

    @property
    def main_message(self) -> str:
        """The main reason's message in the active language (built at the edge, when rendered)."""
        reason = self.main_reason
        return reason_message(reason) if reason is not None else ""

    @property
    def other_count(self) -> int:
        return max(len(self.decision.reasons) - 1, 0)

    @property
    def warning_messages(self) -> list[str]:
        return [reason_message(r) for r in self.decision.reasons if r.severity == Severity.WARN]


@dataclass(frozen=True, slots=True)
class InstitutionCapabilities:
    institution: Institution
    is_main: bool
    allowed: tuple[Capability, ...] = ()  # allow first, then allow_with_warnings
    denied: tuple[Capability, ...] = ()
    rule_pack: str = ""
    error: str = ""  # e.g. no rule pack in force on that day


@dataclass(frozen=True, slots=True)
class Capabilities:
    practitioner: Practitioner
    on: dt.date
    institutions: tuple[InstitutionCapabilities, ...]

    def __iter__(self) -> Iterator[InstitutionCapabilities]:
        return iter(self.institutions)

    def __len__(self) -> int:
        return len(self.institutions)


def _noon(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(12), tzinfo=CHINA_TZ)


def capabilities(
    actor: Actor, practitioner_id: int, on: dt.date, *, codes: Collection[str] | None = None
) -> Capabilities:
    """What ``practitioner_id`` may do, and where, on ``on``.

    For each institution where the practitioner is registered (main institution + multi-site
    registrations valid on ``on``) and which the actor can see, every procedure of the institution's
    registered subjects (or only ``codes``) is decided with ``PRACTITIONER_CHECKS`` (no lots or devices).
    One snapshot is loaded per institution and re-used for every procedure. Unknown or foreign
    practitioner → ``NotFoundField("practitioner_id")`` (a 404).
    """
    practitioner = Practitioner.objects.visible_to(actor).filter(pk=practitioner_id).first()
    if practitioner is None:
        raise NotFoundField("practitioner_id")
    places = list(
        Institution.objects.visible_to(actor).filter(_place_filter(practitioner, on)).order_by("name", "pk")
    )
    places.sort(key=lambda i: i.pk != practitioner.main_institution_id)  # main institution first
    wanted = set(codes) if codes is not None else None
    out = [_institution_capabilities(actor, practitioner, inst, on, wanted) for inst in places]
    return Capabilities(practitioner, on, tuple(out))


def _place_filter(practitioner: Practitioner, on: dt.date) -> Q:
    sites = PractitionerSite.objects.filter(practitioner_id=practitioner.pk, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    return Q(pk=practitioner.main_institution_id) | Q(pk__in=sites.values("institution_id"))


def _institution_capabilities(
    actor: Actor, practitioner: Practitioner, inst: Institution, on: dt.date, wanted: set[str] | None
) -> InstitutionCapabilities:
    is_main = inst.pk == practitioner.main_institution_id
    try:
        pack = resolve(inst.province, on, inst.pk)
    except ActionError as exc:
        return InstitutionCapabilities(inst, is_main, error=str(exc.message))
    subjects = set(inst.subjects)
    procs = sorted(
        (
            p
            for p in pack.procedures.values()
            if (p.code in wanted if wanted is not None else p.subject in subjects)
        ),
        key=lambda p: (p.subject, p.grade or 0, p.code),
    )
    if not procs:
        return InstitutionCapabilities(inst, is_main, rule_pack=pack.version_label)
    base_req = DecisionRequest(
        institution_id=inst.pk,
        practitioner_id=practitioner.pk,
        procedure_code=procs[0].code,
        at=_noon(on),
    )
    try:
        snap = snapshots.load(actor, base_req)
    except (Http404, ActionError) as exc:
        message = str(getattr(exc, "message", "")) or str(exc)
        return InstitutionCapabilities(inst, is_main, rule_pack=pack.version_label, error=message)
    results: list[Capability] = []
    for proc in procs:
        req = dataclasses.replace(base_req, procedure_code=proc.code)
        facts = snapshots.pack_facts(pack, inst, proc.code)
        decision = decide(req, dataclasses.replace(snap, pack=facts), checks=PRACTITIONER_CHECKS)
        results.append(Capability(proc, decision))
    rank = {Outcome.ALLOW: 0, Outcome.ALLOW_WITH_WARNINGS: 1}
    allowed = sorted((c for c in results if c.allowed), key=lambda c: rank[c.outcome])
    denied = [c for c in results if not c.allowed]
    return InstitutionCapabilities(inst, is_main, tuple(allowed), tuple(denied), rule_pack=pack.version_label)


# ---- decision log ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionFilters:
    institution_id: int | None = None
    practitioner_id: int | None = None
    procedure_code: str = ""
    outcome: str = ""
    since: dt.date | None = None  # China calendar days, inclusive
    until: dt.date | None = None


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=CHINA_TZ)


def decisions(actor: Actor, f: DecisionFilters) -> QuerySet[DecisionLog]:
    qs = DecisionLog.objects.visible_to(actor)
    if f.institution_id:
        qs = qs.filter(institution_id=f.institution_id)
    if f.practitioner_id:
        qs = qs.filter(practitioner_id=f.practitioner_id)
    if f.procedure_code:
        qs = qs.filter(procedure_code=f.procedure_code)
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    if f.since:
        qs = qs.filter(at__gte=_start_of(f.since))
    if f.until:
        qs = qs.filter(at__lt=_start_of(f.until + dt.timedelta(days=1)))
    return (
        qs.select_related("institution", "practitioner")
        .defer("request")  # reasons are shown as messages (code + facts), a small JSON list
        .order_by("-created_at", "-pk")
    )


# ---- authorization archive ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorizationFilters:
    institution_id: int | None = None
    practitioner_id: int | None = None
    kind: str = ""
    status: str = ""
    expiring_within: int | None = None  # days: active and ending within that many days of ``on``
    on: dt.date | None = None
    q: str = ""  # text in the grantee's name or the scope (procedure, brand, model, technology)


def authorizations(actor: Actor, f: AuthorizationFilters) -> QuerySet[Authorization]:
    qs = Authorization.objects.visible_to(actor)
    if f.institution_id:
        qs = qs.filter(institution_id=f.institution_id)
    if f.practitioner_id:
        qs = qs.filter(practitioner_id=f.practitioner_id)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.q:
        qs = qs.filter(
            Q(practitioner__name__icontains=f.q)
            | Q(grantee_institution__name__icontains=f.q)
            | Q(procedure_code__icontains=f.q)
            | Q(procedure_category__icontains=f.q)
            | Q(product_brand__icontains=f.q)
            | Q(device_model__icontains=f.q)
            | Q(technology_name__icontains=f.q)
        )
    if f.expiring_within is not None and f.on is not None:
        qs = qs.filter(
            status=AuthorizationStatus.ACTIVE,
            valid_until__gte=f.on,
            valid_until__lte=f.on + dt.timedelta(days=f.expiring_within),
        )
    return qs.select_related("institution", "practitioner", "grantee_institution").order_by(
        "-valid_from", "-pk"
    )


def authorization(actor: Actor, pk: int) -> Authorization:
    auth = (
        Authorization.objects.visible_to(actor)
        .select_related("institution", "practitioner", "grantee_institution", "supervisor", "renews")
        .filter(pk=pk)
        .first()
    )
    if auth is None:
        raise NotFoundField("id")
    return auth


def can_write_authorization(actor: Actor, auth: Authorization) -> bool:
    return Authorization.objects.writable_by(actor).filter(pk=auth.pk).exists()


def authorization_history(actor: Actor, pk: int, limit: int = 100) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.visible_to(actor)
        .filter(object_type="authz.authorization", object_id=str(pk))
        .order_by("-created_at", "-seq")[:limit]
    )


def renewals(actor: Actor, auth: Authorization) -> list[Authorization]:
    return list(Authorization.objects.visible_to(actor).filter(renews_id=auth.pk).order_by("pk"))


__all__: list[Any] = [
    "AuthorizationFilters",
    "Capabilities",
    "Capability",
    "DecisionFilters",
    "InstitutionCapabilities",
    "authorization",
    "authorization_history",
    "authorizations",
    "capabilities",
    "decisions",
]
