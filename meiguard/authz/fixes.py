"""What a refusal offers next (issue 16 item 3): each reason of a check mapped to the fixes that answer it.

* an authorization that is missing, revoked, suspended, expired, not yet valid or too narrow → an
  authorization application prefilled with exactly what was missing (procedure / product brand / device
  model, the institution, the practitioner), and — when there is one — a link to the authorization itself
  (and, for an expired one, to its renewal);
* a missing or unfit supervising 主诊医师 → a select of the institution's eligible supervisors (a current
  主诊医师备案 of the procedure's subject, active, registered here) that re-runs the same check with one;
* a lot that cannot be used (expired, recalled, unavailable, elsewhere) → the institution's usable lots of
  the same product kind, each re-running the same check with that lot instead.

Reads only; the fixes are built from the decision's reasons and its snapshot, plus two small queries (the
eligible supervisors, the replacement lots). The workflow app is linked by URL only (authz never imports it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse

from meiguard.core.access import Actor
from meiguard.core.choices import Role
from meiguard.registry.models import Lot, Practitioner, PractitionerSite, Qualification

from .choices import AuthorizationKind
from .facts import Snapshot
from .policy import CHIEF_FILING, Decision, Severity

# Who may file an authorization application (== workflow.choices.APPLY_ROLES; a test keeps them equal):
# doctors and nurses for themselves, the managing roles for anyone of the institution.
SELF_APPLY_ROLES = frozenset({Role.DOCTOR, Role.NURSE})
ON_BEHALF_ROLES = frozenset({Role.INSTITUTION_ADMIN, Role.COMPLIANCE_OFFICER, Role.MEDICAL_DIRECTOR})
APPLY_ROLES = SELF_APPLY_ROLES | ON_BEHALF_ROLES

# Reasons about the practitioner's own authorization (procedure / brand / device), by the fact naming it.
AUTHORIZATION_CODES = frozenset(
    {
        "AUTHORIZATION_MISSING",
        "AUTHORIZATION_NOT_YET_VALID",
        "AUTHORIZATION_EXPIRED",
        "AUTHORIZATION_SUSPENDED",
        "AUTHORIZATION_REVOKED",
        "AUTHORIZATION_NOT_ACTIVE",
        "AUTHORIZATION_GRADE_LIMIT",
        "PRODUCT_AUTHORIZATION_MISSING",
        "DEVICE_AUTHORIZATION_MISSING",
    }
)
TECHNOLOGY_CODES = frozenset(
    {
        "TECHNOLOGY_AUTHORIZATION_MISSING",
        "TECHNOLOGY_AUTHORIZATION_NOT_YET_VALID",
        "TECHNOLOGY_AUTHORIZATION_EXPIRED",
        "TECHNOLOGY_AUTHORIZATION_SUSPENDED",
        "TECHNOLOGY_AUTHORIZATION_REVOKED",
        "TECHNOLOGY_AUTHORIZATION_NOT_ACTIVE",
    }
)
RENEWABLE_CODES = frozenset(
    {"AUTHORIZATION_EXPIRED", "AUTHORIZATION_EXPIRING", "TECHNOLOGY_AUTHORIZATION_EXPIRED"}
)
SUPERVISOR_CODES = frozenset(
    {
        "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT",
        "NURSE_SUPERVISION_REQUIRED",
        "AUTHORIZATION_REQUIRES_SUPERVISOR",
        "SUPERVISOR_NOT_CHIEF_FOR_SUBJECT",
        "SUPERVISOR_NOT_ACTIVE",
        "SUPERVISOR_NOT_REGISTERED_HERE",
        "SUPERVISOR_LICENCE_MISSING",
        "SUPERVISOR_LICENCE_EXPIRED",
    }
)
LOT_CODES = frozenset({"LOT_EXPIRED", "LOT_RECALLED", "LOT_UNAVAILABLE", "LOT_NOT_AT_INSTITUTION"})


@dataclass(frozen=True, slots=True)
class Application:
    """A prefilled authorization application: what to apply for (kind + one scope field)."""

    kind: str
    field: str  # procedure_code / product_brand / device_model
    value: str
    url: str


@dataclass(frozen=True, slots=True)
class Replacement:
    """Another lot for one used lot (the form row it sits in, the lot it replaces)."""

    row: int
    lot_no: str
    choices: tuple[tuple[int, str], ...]

    @property
    def field(self) -> str:
        return f"lot_{self.row}"


@dataclass(slots=True)
class Fixes:
    applications: list[Application] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)  # {"id", "renew"}
    supervisors: list[tuple[int, str]] | None = None  # None: not asked for; []: asked, nobody eligible
    lots: list[Replacement] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.applications or self.authorizations or self.supervisors is not None or self.lots)


def may_apply(actor: Actor, organization_id: int, practitioner_user_id: int | None) -> bool:
    """May ``actor`` file an application for this practitioner at this institution's organisation?"""
    if actor.can_write_org(organization_id, ON_BEHALF_ROLES):
        return True
    return (
        actor.can_write_org(organization_id, SELF_APPLY_ROLES)
        and practitioner_user_id is not None
        and practitioner_user_id == actor.user_id
    )


def application_url(institution_id: int, practitioner_id: int, kind: str, **scope: str) -> str:
    query = {"institution": institution_id, "practitioner": practitioner_id, "kind": kind, **scope}
    return reverse("workflow:create") + "?" + urlencode(query)


def _application(reason_code: str, facts: dict[str, str], snap: Snapshot) -> tuple[str, str, str] | None:
    """(kind, field, value) of the application answering one authorization reason."""
    if reason_code in TECHNOLOGY_CODES:
        return AuthorizationKind.TECHNOLOGY, "procedure_code", snap.pack.procedure.code
    if facts.get("brand"):
        return AuthorizationKind.PRODUCT, "product_brand", facts["brand"]
    if facts.get("device"):
        device = next((d for d in snap.devices if d.serial == facts["device"]), None)
        model = device.model if device is not None else ""
        return (AuthorizationKind.DEVICE, "device_model", model) if model else None
    if "procedure" in facts or reason_code in ("AUTHORIZATION_GRADE_LIMIT", "AUTHORIZATION_MISSING"):
        return AuthorizationKind.QUALIFICATION, "procedure_code", snap.pack.procedure.code
    return None


def eligible_supervisors(snap: Snapshot, on: dt.date) -> list[tuple[int, str]]:
    """Active doctors registered at the institution on ``on`` with a current, not rejected 主诊医师备案 of the
    procedure's subject (the engine checks the rest when the check re-runs). The practitioner is left out."""
    subject = snap.pack.procedure.subject
    inst = snap.institution.id
    sites = PractitionerSite.objects.filter(institution_id=inst, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    filed = Qualification.objects.filter(kind=CHIEF_FILING, subject=subject).exclude(
        verification_status="rejected"
    )
    filed = filed.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on)).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    people = (
        Practitioner.objects.filter(Q(main_institution_id=inst) | Q(pk__in=sites.values("practitioner_id")))
        .filter(pk__in=filed.values("practitioner_id"), status="active", profession="doctor")
        .exclude(pk=snap.practitioner.id)
        .order_by("name", "pk")
    )
    return [(p.pk, f"{p.name} · {p.get_title_display()}") for p in people]


def replacement_lots(
    snap: Snapshot, kind: str, on: dt.date, exclude: set[int]
) -> tuple[tuple[int, str], ...]:
    """The institution's available, unexpired lots of products of this kind (not the ones in use)."""
    lots = (
        Lot.objects.filter(institution_id=snap.institution.id, status="available", expiry_date__gte=on)
        .filter(product__kind=kind)
        .exclude(pk__in=exclude)
        .select_related("product")
        .order_by("expiry_date", "lot_no", "pk")
    )
    return tuple((lot.pk, f"{lot} · {lot.expiry_date:%Y-%m-%d}") for lot in lots)


def fixes_for(
    actor: Actor,
    decision: Decision,
    snap: Snapshot,
    *,
    on: dt.date,
    lot_rows: dict[int, int],
    organization_id: int,
    practitioner_user_id: int | None,
    writable_authorization_ids: frozenset[int] = frozenset(),
) -> Fixes:
    """The fixes for a decision. ``lot_rows``: lot id → the form row it was chosen in."""
    out = Fixes()
    can_apply = may_apply(actor, organization_id, practitioner_user_id)
    seen: set[tuple[str, str, str]] = set()
    seen_auth: set[int] = set()
    wants_supervisor = False
    for reason in decision.reasons:
        facts = dict(reason.facts)
        code = reason.code
        if code in AUTHORIZATION_CODES | TECHNOLOGY_CODES and reason.severity == Severity.DENY and can_apply:
            target = _application(code, facts, snap)
            if target is not None and target not in seen:
                seen.add(target)
                kind, name, value = target
                url = application_url(snap.institution.id, snap.practitioner.id, kind, **{name: value})
                out.applications.append(Application(kind, name, value, url))
        auth_id = facts.get("authorization", "")
        if auth_id.isdigit() and int(auth_id) not in seen_auth:
            seen_auth.add(int(auth_id))
            out.authorizations.append(
                {
                    "id": int(auth_id),
                    "renew": code in RENEWABLE_CODES and int(auth_id) in writable_authorization_ids,
                }
            )
        if code in SUPERVISOR_CODES:
            wants_supervisor = True
        if code in LOT_CODES:
            lot = next((lot for lot in snap.lots if lot.lot_no == facts.get("lot")), None)
            if lot is not None and lot.id in lot_rows and all(r.lot_no != lot.lot_no for r in out.lots):
                choices = replacement_lots(snap, lot.product.kind, on, set(lot_rows))
                out.lots.append(Replacement(lot_rows[lot.id], lot.lot_no, choices))
    if wants_supervisor:
        out.supervisors = eligible_supervisors(snap, on)
    return out
