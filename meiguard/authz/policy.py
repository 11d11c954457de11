"""The point-of-care decision engine: ``decide(request, snapshot) -> Decision``.

Pure: no ORM, no clock, no gettext. Every check is a small function ``(req, snap) -> Iterable[Reason]``
and ``decide`` runs all of them, so a decision reports every failing check, not only the first.
Reason codes are stable and listed (with messages and sources) in docs/decision-reasons.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from meiguard.rules.services import RuleRef

from .facts import (
    AuthorizationFacts,
    DecisionRequest,
    LotFacts,
    PractitionerFacts,
    QualificationFacts,
    Snapshot,
)


class Severity(StrEnum):
    DENY = "deny"
    WARN = "warn"


class Outcome(StrEnum):
    ALLOW = "allow"
    ALLOW_WITH_WARNINGS = "allow_with_warnings"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    severity: Severity
    rule: RuleRef
    facts: tuple[tuple[str, str], ...] = ()

    def fact(self, key: str) -> str | None:
        return next((v for k, v in self.facts if k == key), None)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]

    @property
    def allowed(self) -> bool:
        return self.outcome != Outcome.DENY

    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


Check = Callable[[DecisionRequest, Snapshot], Iterable[Reason]]

# Qualification kinds (registry.choices.QualificationKind values).
PRACTICE_LICENCE = "practice_licence"
NURSE_REGISTRATION = "nurse_registration"
CHIEF_FILING = "chief_physician_filing"
TRAINING = "training_certificate"
NURSE_TRAINING_HOURS = "nurse_training_hours"
REJECTED = "rejected"
UNVERIFIED = "unverified"

ACTIVE = "active"
DOCTOR = "doctor"
NURSE = "nurse"


def _d(value: object) -> str:
    return "" if value is None else str(value)


def _within(on: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or start <= on) and (end is None or on <= end)


def _deny(code: str, rule: RuleRef, **facts: object) -> Reason:
    return Reason(code, Severity.DENY, rule, tuple((k, _d(v)) for k, v in facts.items()))


def _warn(code: str, rule: RuleRef, **facts: object) -> Reason:
    return Reason(code, Severity.WARN, rule, tuple((k, _d(v)) for k, v in facts.items()))


def _usable(q: QualificationFacts) -> bool:
    return q.verification_status != REJECTED


def _valid_quals(p: PractitionerFacts, kind: str, on: dt.date, subject: str = "") -> list[QualificationFacts]:
    return [
        q
        for q in p.qualifications
        if q.kind == kind
        and _usable(q)
        and (not subject or q.subject == subject)
        and _within(on, q.valid_from, q.valid_until)
    ]


# ---- institution ------------------------------------------------------------------------------


def check_institution(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    inst, rule, on = snap.institution, snap.pack.licence_rule, req.on
    if inst.status != ACTIVE:
        yield _deny("INSTITUTION_NOT_ACTIVE", rule, institution=inst.name, status=inst.status)
    until = inst.licence_valid_until
    if until is None or (inst.licence_valid_from is not None and on < inst.licence_valid_from):
        yield _deny(
            "INSTITUTION_LICENCE_INVALID",
            rule,
            institution=inst.name,
            valid_from=inst.licence_valid_from,
            valid_until=until,
        )
    elif on > until:
        yield _deny("INSTITUTION_LICENCE_EXPIRED", rule, institution=inst.name, valid_until=until, on=on)
    elif (until - on).days <= snap.pack.warn_days:
        yield _warn(
            "INSTITUTION_LICENCE_EXPIRING",
            rule,
            institution=inst.name,
            valid_until=until,
            days_left=(until - on).days,
        )
    due = inst.next_verification_due
    if due is not None and on > due:
        yield _deny(
            "INSTITUTION_VERIFICATION_OVERDUE",
            snap.pack.verification_rule,
            institution=inst.name,
            verification_due=due,
            on=on,
        )


def check_subject_and_grade(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    proc, inst = snap.pack.procedure, snap.institution
    if proc.subject not in inst.subjects:
        yield _deny(
            "SUBJECT_NOT_REGISTERED",
            snap.pack.subjects_rule,
            procedure=proc.code,
            subject=proc.subject,
            registered=",".join(sorted(inst.subjects)),
        )
    if proc.grade is None and proc.invasive == "surgical" and proc.subject == "cosmetic_surgery":
        yield _deny("PROCEDURE_REQUIRES_MANUAL_REVIEW", snap.pack.manual_review_rule, procedure=proc.code)
    elif proc.grade is not None and proc.grade > snap.pack.permitted_grade:
        yield _deny(
            "PROCEDURE_GRADE_EXCEEDS_INSTITUTION",
            snap.pack.grade_rule,
            procedure=proc.code,
            procedure_grade=proc.grade,
            permitted_grade=snap.pack.permitted_grade,
        )


# ---- practitioner -----------------------------------------------------------------------------


def check_practitioner(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    p, on = snap.practitioner, req.on
    rule = snap.pack.nurse_registration_rule if p.profession == NURSE else snap.pack.physician_rule
    if p.status != ACTIVE:
        yield _deny("PRACTITIONER_NOT_ACTIVE", rule, practitioner=p.name, status=p.status)
    if p.profession not in (DOCTOR, NURSE):
        yield _deny("PROFESSION_NOT_PERMITTED", rule, practitioner=p.name, profession=p.profession)
    licence_kind = NURSE_REGISTRATION if p.profession == NURSE else PRACTICE_LICENCE
    licences = [q for q in p.qualifications if q.kind == licence_kind and _usable(q)]
    current = [q for q in licences if _within(on, q.valid_from, q.valid_until)]
    if not licences:
        yield _deny("PRACTITIONER_LICENCE_MISSING", rule, practitioner=p.name, kind=licence_kind)
    elif not current:
        last = max((q.valid_until for q in licences if q.valid_until), default=None)
        yield _deny("PRACTITIONER_LICENCE_EXPIRED", rule, practitioner=p.name, valid_until=last, on=on)
    else:
        best = max(current, key=lambda q: q.valid_until or dt.date.max)
        if best.valid_until is not None and (best.valid_until - on).days <= snap.pack.warn_days:
            yield _warn(
                "PRACTITIONER_LICENCE_EXPIRING",
                rule,
                practitioner=p.name,
                valid_until=best.valid_until,
                days_left=(best.valid_until - on).days,
            )
        if best.verification_status == UNVERIFIED:
            yield _warn(
                "QUALIFICATION_UNVERIFIED",
                rule,
                practitioner=p.name,
                qualification=best.id,
                kind=licence_kind,
            )
    if not _registered_here(p, snap.institution.id, on):
        yield _deny(
            "PRACTITIONER_NOT_REGISTERED_HERE", rule, practitioner=p.name, institution=snap.institution.name
        )


def _registered_here(p: PractitionerFacts, institution_id: int, on: dt.date) -> bool:
    if p.main_institution_id == institution_id:
        return True
    return any(
        s.institution_id == institution_id and _within(on, s.valid_from, s.valid_until) for s in p.sites
    )


def _chief_problems(p: PractitionerFacts, snap: Snapshot, on: dt.date) -> list[Reason] | None:
    """None if ``p`` has no valid 主诊 filing for the subject; else the unmet PR-02/05/06 conditions."""
    req = snap.pack.chief
    proc = snap.pack.procedure
    if req is None:
        return None
    filings = _valid_quals(p, CHIEF_FILING, on, proc.subject)
    if not filings:
        return None
    problems: list[Reason] = []
    if req.accepted_scopes and not (p.practice_scopes & req.accepted_scopes):
        problems.append(
            _deny(
                "PRACTITIONER_SCOPE_NOT_ACCEPTED",
                req.scope_rule or req.rule,
                practitioner=p.name,
                scopes=",".join(sorted(p.practice_scopes)),
                accepted=",".join(sorted(req.accepted_scopes)),
            )
        )
    years = max((f.qualifying_years or 0) for f in filings)
    if years < req.min_years:
        problems.append(
            _deny(
                "CHIEF_FILING_YEARS_SHORT", req.rule, practitioner=p.name, years=years, required=req.min_years
            )
        )
    if p.title_rank < req.min_title_rank:
        problems.append(
            _deny(
                "PRACTITIONER_TITLE_TOO_LOW",
                req.rule,
                practitioner=p.name,
                title_rank=p.title_rank,
                required_rank=req.min_title_rank,
            )
        )
    return problems


def _supervisor_ok(req: DecisionRequest, snap: Snapshot) -> tuple[bool, list[Reason]]:
    sup = snap.supervisor
    if req.supervisor_id is None or sup is None:
        return False, []
    rule = snap.pack.supervision_rule
    problems = _chief_problems(sup, snap, req.on)
    out: list[Reason] = []
    if problems is None:
        out.append(
            _deny(
                "SUPERVISOR_NOT_CHIEF_FOR_SUBJECT",
                rule,
                supervisor=sup.name,
                subject=snap.pack.procedure.subject,
            )
        )
    else:
        out.extend(problems)
    if sup.status != ACTIVE or sup.profession != DOCTOR:
        out.append(_deny("SUPERVISOR_NOT_ACTIVE", rule, supervisor=sup.name, status=sup.status))
    if not _registered_here(sup, snap.institution.id, req.on):
        out.append(
            _deny(
                "SUPERVISOR_NOT_REGISTERED_HERE", rule, supervisor=sup.name, institution=snap.institution.name
            )
        )
    return not out, out


def check_qualified_for_procedure(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    p, proc, on = snap.practitioner, snap.pack.procedure, req.on
    if p.profession == DOCTOR:
        problems = _chief_problems(p, snap, on)
        if problems is not None:
            yield from problems
            return
        supervised, sup_problems = _supervisor_ok(req, snap)
        if supervised:
            return
        if sup_problems:
            yield from sup_problems
        yield _deny(
            "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT",
            snap.pack.supervision_rule,
            practitioner=p.name,
            subject=proc.subject,
        )
    elif p.profession == NURSE:
        allowed = snap.pack.nurse_allowed_invasive
        if allowed is not None and proc.invasive not in allowed:
            yield _deny(
                "NURSE_PROCEDURE_NOT_PERMITTED",
                snap.pack.nurse_rule,
                practitioner=p.name,
                procedure=proc.code,
                invasive=proc.invasive,
            )
        supervised, sup_problems = _supervisor_ok(req, snap)
        if not supervised:
            yield from sup_problems
            yield _deny("NURSE_SUPERVISION_REQUIRED", snap.pack.nurse_registration_rule, practitioner=p.name)
        hours = sum(
            (
                q.hours or Decimal(0)
                for q in p.qualifications
                if q.kind == NURSE_TRAINING_HOURS and _usable(q)
            ),
            Decimal(0),
        )
        if hours < snap.pack.nurse_min_training_hours:
            yield _deny(
                "NURSE_TRAINING_HOURS_SHORT",
                snap.pack.nurse_training_rule,
                practitioner=p.name,
                hours=hours,
                required=snap.pack.nurse_min_training_hours,
            )


# ---- authorizations ---------------------------------------------------------------------------


def _covers_procedure(a: AuthorizationFacts, snap: Snapshot) -> bool:
    proc = snap.pack.procedure
    return (
        a.kind == "qualification"
        and a.institution_id == snap.institution.id
        and (
            a.procedure_code == proc.code
            or (
                bool(a.procedure_category)
                and a.procedure_category == proc.category
                and a.subject in ("", proc.subject)
            )
            or (not a.procedure_code and not a.procedure_category and a.subject == proc.subject)
        )
    )


def _authorization_reasons(
    candidates: list[AuthorizationFacts],
    on: dt.date,
    rule: RuleRef,
    missing_code: str,
    warn_days: int,
    **facts: object,
) -> tuple[AuthorizationFacts | None, list[Reason]]:
    """Pick the authorization in force, or explain why none is (missing / not yet / expired / suspended)."""
    in_force = [a for a in candidates if a.status == ACTIVE and _within(on, a.valid_from, a.valid_until)]
    if in_force:
        best = max(in_force, key=lambda a: a.valid_until or dt.date.max)
        if best.valid_until is not None and (best.valid_until - on).days <= warn_days:
            return best, [
                _warn(
                    "AUTHORIZATION_EXPIRING",
                    rule,
                    authorization=best.id,
                    valid_until=best.valid_until,
                    days_left=(best.valid_until - on).days,
                    **facts,
                )
            ]
        return best, []
    if not candidates:
        return None, [_deny(missing_code, rule, **facts)]
    out: list[Reason] = []
    for a in sorted(candidates, key=lambda a: a.id):
        if a.status in ("suspended", "revoked"):
            out.append(
                _deny(
                    "AUTHORIZATION_SUSPENDED" if a.status == "suspended" else "AUTHORIZATION_REVOKED",
                    rule,
                    authorization=a.id,
                    **facts,
                )
            )
        elif a.status in (ACTIVE, "draft") and a.valid_from > on:
            out.append(
                _deny(
                    "AUTHORIZATION_NOT_YET_VALID", rule, authorization=a.id, valid_from=a.valid_from, **facts
                )
            )
        elif a.status == "draft":
            out.append(_deny("AUTHORIZATION_NOT_ACTIVE", rule, authorization=a.id, status=a.status, **facts))
        else:
            out.append(
                _deny("AUTHORIZATION_EXPIRED", rule, authorization=a.id, valid_until=a.valid_until, **facts)
            )
    return None, out


def check_authorization(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    proc = snap.pack.procedure
    # Graded surgery always needs the surgical-grading privilege (SP-02); other items only when the
    # institution's policy asks for an authorization per item.
    rule = snap.pack.authorization_rule if proc.grade is not None else snap.pack.ungraded_authorization_rule
    if rule is None:
        return
    candidates = [a for a in snap.authorizations if _covers_procedure(a, snap)]
    best, reasons = _authorization_reasons(
        candidates,
        req.on,
        rule,
        "AUTHORIZATION_MISSING",
        snap.pack.warn_days,
        procedure=proc.code,
    )
    yield from reasons
    if best is None:
        return
    if best.max_grade is not None and proc.grade is not None and proc.grade > best.max_grade:
        yield _deny(
            "AUTHORIZATION_GRADE_LIMIT",
            rule,
            authorization=best.id,
            max_grade=best.max_grade,
            procedure_grade=proc.grade,
        )
    if best.supervisor_id is not None and req.supervisor_id != best.supervisor_id:
        yield _deny(
            "AUTHORIZATION_REQUIRES_SUPERVISOR",
            rule,
            authorization=best.id,
            supervisor_id=best.supervisor_id,
        )


# ---- products and lots ------------------------------------------------------------------------


def _training_reasons(snap: Snapshot, on: dt.date, reference: str, rule: RuleRef) -> Iterator[Reason]:
    p = snap.practitioner
    certs = [q for q in p.qualifications if q.kind == TRAINING and _usable(q) and q.reference == reference]
    if not certs:
        yield _deny("TRAINING_CERTIFICATE_MISSING", rule, practitioner=p.name, covers=reference)
    elif not any(_within(on, q.valid_from, q.valid_until) for q in certs):
        yield _deny("TRAINING_CERTIFICATE_EXPIRED", rule, practitioner=p.name, covers=reference)


def check_lots(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    on, rule = req.on, snap.pack.product_rule
    for use in req.products:
        lot = snap.lot(use.lot_id)
        if lot is None:
            yield _deny("LOT_NOT_FOUND", rule, lot=use.lot_id)
            continue
        yield from _lot_reasons(lot, snap, on)


def _lot_reasons(lot: LotFacts, snap: Snapshot, on: dt.date) -> Iterator[Reason]:
    rule, product = snap.pack.product_rule, lot.product
    if lot.institution_id != snap.institution.id:
        yield _deny("LOT_NOT_AT_INSTITUTION", rule, lot=lot.lot_no, institution=snap.institution.name)
    if lot.status == "recalled":
        yield _deny("LOT_RECALLED", snap.pack.recall_rule, lot=lot.lot_no, recall_level=lot.recall_level)
    elif lot.status != "available":
        yield _deny("LOT_UNAVAILABLE", rule, lot=lot.lot_no, status=lot.status)
    if lot.expiry < on:
        yield _deny("LOT_EXPIRED", rule, lot=lot.lot_no, expiry=lot.expiry)
    if not product.registration_no:
        yield _deny("PRODUCT_UNREGISTERED", rule, product=product.name)
    elif product.registration_valid_until is not None and product.registration_valid_until < on:
        yield _deny(
            "PRODUCT_REGISTRATION_EXPIRED",
            rule,
            product=product.name,
            registration_no=product.registration_no,
            valid_until=product.registration_valid_until,
        )
    if not any(_within(on, start, end) for start, end in product.distribution_windows):
        yield _deny(
            "SUPPLIER_NOT_AUTHORIZED", snap.pack.supplier_rule, product=product.name, brand=product.brand
        )
    auth_rule = snap.pack.product_authorization_rule
    if product.high_risk and auth_rule is not None:
        candidates = [
            a
            for a in snap.authorizations
            if a.kind == "product"
            and a.product_brand == product.brand
            and a.institution_id == snap.institution.id
        ]
        _, reasons = _authorization_reasons(
            candidates,
            on,
            auth_rule,
            "PRODUCT_AUTHORIZATION_MISSING",
            snap.pack.warn_days,
            brand=product.brand,
        )
        yield from reasons
        yield from _training_reasons(snap, on, product.brand, auth_rule)


def check_doses(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    totals: dict[str, Decimal] = {}
    for use in req.products:
        lot = snap.lot(use.lot_id)
        if lot is None:
            continue
        ingredient = lot.product.ingredient
        limit = next((lim for lim in snap.pack.dose_limits if lim.ingredient == ingredient), None)
        if use.dose_value is not None and use.dose_unit and use.dose_unit != lot.product.dose_unit:
            yield _deny(
                "DOSE_UNIT_MISMATCH",
                snap.pack.product_rule,
                lot=lot.lot_no,
                unit=use.dose_unit,
                expected=lot.product.dose_unit,
            )
            continue
        if limit is not None:
            if use.dose_value is None:
                yield _deny("DOSE_REQUIRED", limit.rule, lot=lot.lot_no, ingredient=ingredient)
                continue
            totals[ingredient] = totals.get(ingredient, Decimal(0)) + use.dose_value
        duration = next((d for d in snap.pack.duration_limits if d.ingredient == ingredient), None)
        if duration is not None and use.minutes is not None and use.minutes > duration.max_minutes:
            yield _deny(
                "DURATION_OVER_LIMIT",
                duration.rule,
                lot=lot.lot_no,
                minutes=use.minutes,
                limit=duration.max_minutes,
            )
    for ingredient, total in sorted(totals.items()):
        limit = next(lim for lim in snap.pack.dose_limits if lim.ingredient == ingredient)
        if total > limit.max_value:
            yield _deny(
                "DOSE_OVER_LIMIT",
                limit.rule,
                ingredient=ingredient,
                dose=f"{total}{limit.unit}",
                limit=f"{limit.max_value}{limit.unit}",
            )


# ---- devices ----------------------------------------------------------------------------------


def check_devices(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    on, rule, proc = req.on, snap.pack.device_rule, snap.pack.procedure
    if proc.invasive == "energy-device" and not req.device_ids:
        yield _deny("DEVICE_REQUIRED", rule, procedure=proc.code)
    for device_id in req.device_ids:
        device = snap.device(device_id)
        if device is None:
            yield _deny("DEVICE_NOT_FOUND", rule, device=device_id)
            continue
        if device.institution_id != snap.institution.id:
            yield _deny(
                "DEVICE_NOT_AT_INSTITUTION", rule, device=device.serial, institution=snap.institution.name
            )
        if device.status != ACTIVE:
            yield _deny("DEVICE_NOT_ACTIVE", rule, device=device.serial, status=device.status)
        if device.next_inspection_due is not None and device.next_inspection_due < on:
            yield _deny(
                "DEVICE_INSPECTION_OVERDUE", rule, device=device.serial, due=device.next_inspection_due
            )
        if device.next_calibration_due is not None and device.next_calibration_due < on:
            yield _deny(
                "DEVICE_CALIBRATION_OVERDUE", rule, device=device.serial, due=device.next_calibration_due
            )
        product = device.product
        if product.registration_valid_until is not None and product.registration_valid_until < on:
            yield _deny(
                "PRODUCT_REGISTRATION_EXPIRED",
                rule,
                product=product.name,
                registration_no=product.registration_no,
                valid_until=product.registration_valid_until,
            )
        auth_rule = snap.pack.device_authorization_rule
        if auth_rule is None:
            continue
        candidates = [
            a
            for a in snap.authorizations
            if a.kind == "device"
            and a.device_model == device.model
            and a.institution_id == snap.institution.id
        ]
        _, reasons = _authorization_reasons(
            candidates,
            on,
            auth_rule,
            "DEVICE_AUTHORIZATION_MISSING",
            snap.pack.warn_days,
            device=device.serial,
        )
        yield from reasons
        yield from _training_reasons(snap, on, device.model, auth_rule)


CHECKS: tuple[Check, ...] = (
    check_institution,
    check_subject_and_grade,
    check_practitioner,
    check_qualified_for_procedure,
    check_authorization,
    check_lots,
    check_doses,
    check_devices,
)


def outcome_of(reasons: Iterable[Reason]) -> Outcome:
    severities = {r.severity for r in reasons}
    if Severity.DENY in severities:
        return Outcome.DENY
    if Severity.WARN in severities:
        return Outcome.ALLOW_WITH_WARNINGS
    return Outcome.ALLOW


# What a practitioner may do in general (no particular lot or device): the capability list.
PRACTITIONER_CHECKS: tuple[Check, ...] = (
    check_institution,
    check_subject_and_grade,
    check_practitioner,
    check_qualified_for_procedure,
    check_authorization,
)


def decide(req: DecisionRequest, snap: Snapshot, checks: tuple[Check, ...] = CHECKS) -> Decision:
    reasons = tuple(r for check in checks for r in check(req, snap))
    return Decision(outcome_of(reasons), reasons)
