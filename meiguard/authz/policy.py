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
    AnesthesiaRule,
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
PERIODIC_ASSESSMENT = "periodic_assessment"
AESTHETIC_TRAINING = "aesthetic_training"
AESTHETIC_CLINICAL_WORK = "aesthetic_clinical_work"
REJECTED = "rejected"
UNVERIFIED = "unverified"

ACTIVE = "active"
FAILED_CHECK = "failed_check"  # registry DeviceStatus.FAILED_CHECK: a failed check in the device file
DOCTOR = "doctor"
NURSE = "nurse"
ANESTHETIST = "anesthetist"  # Profession.ANESTHETIST (麻醉医师): a physician too

QUALIFICATION = "qualification"
TECHNOLOGY = "technology"
LOCAL_ANESTHESIA = "local"
ANESTHESIOLOGY_SCOPE = "麻醉科"  # PRACTICE_SCOPES
# An anaesthesia privilege is a qualification authorization of the anaesthetist at the institution whose
# procedure_category is this (no catalog item has it, so it never covers a procedure); max_grade limits it.
ANESTHESIA_PRIVILEGE_CATEGORY = "麻醉"


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


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _licence_state(
    p: PractitionerFacts, kind: str, on: dt.date
) -> tuple[str, QualificationFacts | None, dt.date | None]:
    """("missing" | "expired" | "ok", the best current licence, the last end date). Rejected ones don't count."""
    licences = [q for q in p.qualifications if q.kind == kind and _usable(q)]
    current = [q for q in licences if _within(on, q.valid_from, q.valid_until)]
    if not licences:
        return "missing", None, None
    if not current:
        return "expired", None, max((q.valid_until for q in licences if q.valid_until), default=None)
    best = max(current, key=lambda q: q.valid_until or dt.date.max)
    return "ok", best, best.valid_until


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
    months = snap.pack.verification_notice_months
    notice_rule = snap.pack.verification_notice_rule
    if due is not None and on <= due and months and notice_rule and due <= _add_months(on, months):
        # IN-04: apply for 校验 this many months before the cycle ends.
        yield _warn(
            "INSTITUTION_VERIFICATION_DUE_SOON",
            notice_rule,
            institution=inst.name,
            verification_due=due,
            notice_months=months,
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
    state, best, last = _licence_state(p, licence_kind, on)
    renewal_days, renewal_rule = snap.pack.nurse_renewal_notice_days, snap.pack.nurse_renewal_rule
    if state == "missing":
        yield _deny("PRACTITIONER_LICENCE_MISSING", rule, practitioner=p.name, kind=licence_kind)
    elif state == "expired":
        yield _deny("PRACTITIONER_LICENCE_EXPIRED", rule, practitioner=p.name, valid_until=last, on=on)
    elif best is not None:
        days_left = None if best.valid_until is None else (best.valid_until - on).days
        if (
            p.profession == NURSE
            and renewal_days is not None
            and renewal_rule is not None
            and days_left is not None
            and days_left <= renewal_days
        ):
            # PR-07 [S05]: renewal must be applied for this many days before expiry (said instead of the
            # generic expiry warning, which would tell the same thing).
            yield _warn(
                "NURSE_REGISTRATION_RENEWAL_DUE",
                renewal_rule,
                practitioner=p.name,
                valid_until=best.valid_until,
                days_left=days_left,
                notice_days=renewal_days,
            )
        elif days_left is not None and days_left <= snap.pack.warn_days:
            yield _warn(
                "PRACTITIONER_LICENCE_EXPIRING",
                rule,
                practitioner=p.name,
                valid_until=best.valid_until,
                days_left=days_left,
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
    problems.extend(_provincial_chief_problems(p, snap, on))
    return problems


def _provincial_chief_problems(p: PractitionerFacts, snap: Snapshot, on: dt.date) -> Iterator[Reason]:
    """PR-05 (Beijing): registered in the province, periodic assessment passed, training or clinical work."""
    req = snap.pack.chief
    assert req is not None
    province = snap.institution.province
    if req.registered_in_province and p.main_province != province:
        # The 执业注册 is held where the main institution is; multi-site filings do not move it.
        yield _deny(
            "CHIEF_NOT_REGISTERED_IN_PROVINCE",
            req.rule,
            practitioner=p.name,
            registered_province=p.main_province,
            province=province,
        )
    if req.periodic_assessment_required and not _valid_quals(p, PERIODIC_ASSESSMENT, on):
        last = max(
            (q.valid_until for q in p.qualifications if q.kind == PERIODIC_ASSESSMENT and q.valid_until),
            default=None,
        )
        yield _deny("PERIODIC_ASSESSMENT_NOT_CURRENT", req.rule, practitioner=p.name, last_valid_until=last)
    if req.training_min_years > 0:

        def longest(kind: str) -> int:
            return max(
                (q.duration_months or 0 for q in p.qualifications if q.kind == kind and _usable(q)), default=0
            )

        training, clinical = longest(AESTHETIC_TRAINING), longest(AESTHETIC_CLINICAL_WORK)
        need_training = int(req.training_min_years * 12)
        need_clinical = int(req.clinical_alternative_years * 12)
        if training < need_training and clinical < need_clinical:
            yield _deny(
                "CHIEF_TRAINING_SHORT",
                req.rule,
                practitioner=p.name,
                training_months=training,
                required_training_months=need_training,
                clinical_months=clinical,
                required_clinical_months=need_clinical,
            )


def _supervisor_licence(sup: PractitionerFacts, snap: Snapshot, on: dt.date) -> Iterator[Reason]:
    """A supervising 主诊 must hold a current practice licence (PR-02 criterion 1), like the operator."""
    rule = snap.pack.chief.rule if snap.pack.chief is not None else snap.pack.supervision_rule
    state, _best, last = _licence_state(sup, PRACTICE_LICENCE, on)
    if state == "missing":
        yield _deny("SUPERVISOR_LICENCE_MISSING", rule, supervisor=sup.name)
    elif state == "expired":
        yield _deny("SUPERVISOR_LICENCE_EXPIRED", rule, supervisor=sup.name, valid_until=last, on=on)


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
    out.extend(_supervisor_licence(sup, snap, req.on))
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
        yield from _nurse_experience(p, snap, on)


def _nurse_experience(p: PractitionerFacts, snap: Snapshot, on: dt.date) -> Iterator[Reason]:
    """PR-07: ≥ N years of nursing, counted from Practitioner.practising_since (开始执业日期).

    Unknown (no date recorded) is a warning, not a denial: the date is optional in the registry and the
    nurse's registration is checked separately; the warning asks for it to be recorded.
    """
    rule, years = snap.pack.nurse_qualification_rule, snap.pack.nurse_min_years
    if rule is None or years <= 0:
        return
    if p.practising_since is None:
        yield _warn("NURSE_EXPERIENCE_UNKNOWN", rule, practitioner=p.name, required_years=years)
        return
    enough_on = _add_months(p.practising_since, int(years * 12))
    if on < enough_on:
        yield _deny(
            "NURSE_EXPERIENCE_SHORT",
            rule,
            practitioner=p.name,
            practising_since=p.practising_since,
            required_years=years,
            enough_on=enough_on,
        )


# ---- authorizations ---------------------------------------------------------------------------


def _covers_procedure(a: AuthorizationFacts, snap: Snapshot) -> bool:
    proc = snap.pack.procedure
    return (
        a.kind == QUALIFICATION
        and a.institution_id == snap.institution.id
        and a.practitioner_id == snap.practitioner.id
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


# The same states of a technology authorization (SP-02 新技术准入) have their own codes.
TECHNOLOGY_CODES = {
    "AUTHORIZATION_SUSPENDED": "TECHNOLOGY_AUTHORIZATION_SUSPENDED",
    "AUTHORIZATION_REVOKED": "TECHNOLOGY_AUTHORIZATION_REVOKED",
    "AUTHORIZATION_NOT_YET_VALID": "TECHNOLOGY_AUTHORIZATION_NOT_YET_VALID",
    "AUTHORIZATION_NOT_ACTIVE": "TECHNOLOGY_AUTHORIZATION_NOT_ACTIVE",
    "AUTHORIZATION_EXPIRED": "TECHNOLOGY_AUTHORIZATION_EXPIRED",
}


def _authorization_reasons(
    candidates: list[AuthorizationFacts],
    on: dt.date,
    rule: RuleRef,
    missing_code: str,
    warn_days: int,
    technology: bool = False,
    **facts: object,
) -> tuple[AuthorizationFacts | None, list[Reason]]:
    """Pick the authorization in force, or explain why none is (missing / not yet / expired / suspended).

    ``technology``: use the ``TECHNOLOGY_AUTHORIZATION_*`` codes instead of ``AUTHORIZATION_*``.
    """

    def code(name: str) -> str:
        return TECHNOLOGY_CODES[name] if technology else name

    in_force = [a for a in candidates if a.status == ACTIVE and _within(on, a.valid_from, a.valid_until)]
    if in_force:
        best = max(in_force, key=lambda a: a.valid_until or dt.date.max)
        if best.valid_until is not None and (best.valid_until - on).days <= warn_days:
            expiring = dict(
                authorization=best.id,
                valid_until=best.valid_until,
                days_left=(best.valid_until - on).days,
                **facts,
            )
            if technology:
                return best, [_warn("TECHNOLOGY_AUTHORIZATION_EXPIRING", rule, **expiring)]
            return best, [_warn("AUTHORIZATION_EXPIRING", rule, **expiring)]
        return best, []
    if not candidates:
        return None, [_deny(missing_code, rule, **facts)]
    out: list[Reason] = []
    for a in sorted(candidates, key=lambda a: a.id):
        if a.status in ("suspended", "revoked"):
            out.append(
                _deny(
                    code("AUTHORIZATION_SUSPENDED" if a.status == "suspended" else "AUTHORIZATION_REVOKED"),
                    rule,
                    authorization=a.id,
                    **facts,
                )
            )
        elif a.status in (ACTIVE, "draft") and a.valid_from > on:
            out.append(
                _deny(
                    code("AUTHORIZATION_NOT_YET_VALID"),
                    rule,
                    authorization=a.id,
                    valid_from=a.valid_from,
                    **facts,
                )
            )
        elif a.status == "draft":
            out.append(
                _deny(code("AUTHORIZATION_NOT_ACTIVE"), rule, authorization=a.id, status=a.status, **facts)
            )
        else:
            out.append(
                _deny(
                    code("AUTHORIZATION_EXPIRED"),
                    rule,
                    authorization=a.id,
                    valid_until=a.valid_until,
                    **facts,
                )
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


def check_technology(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    """SP-02 新技术和新项目准入: a procedure a technology rule lists needs a technology authorization in force here.

    A technology authorization covers the catalog item in its ``procedure_code``; it may name the operator or
    no one (institution-wide).
    """
    rule, proc = snap.pack.technology_rule, snap.pack.procedure
    if rule is None:
        return
    candidates = [
        a
        for a in snap.authorizations
        if a.kind == TECHNOLOGY
        and a.procedure_code == proc.code
        and a.institution_id == snap.institution.id
        and a.practitioner_id in (None, snap.practitioner.id)
    ]
    _, reasons = _authorization_reasons(
        candidates,
        req.on,
        rule,
        "TECHNOLOGY_AUTHORIZATION_MISSING",
        snap.pack.warn_days,
        technology=True,
        procedure=proc.code,
    )
    yield from reasons


# ---- anaesthesia ------------------------------------------------------------------------------


def anesthesia_needs(req: DecisionRequest, snap: Snapshot) -> tuple[str | None, AnesthesiaRule | None]:
    """(the effective anaesthesia, the pack rule that makes an anaesthetist necessary — None if none does).

    The effective anaesthesia is the request's, else the procedure's ``anesthesia_max``, else the one of the
    pack's rule for its grade. An anaesthetist is needed when it is beyond local, or when the rule for the
    procedure's grade says so; the rule cited is that one, else (an ungraded item under deeper anaesthesia)
    the lowest-grade rule for that anaesthesia that requires an anaesthetist.
    """
    proc, rules = snap.pack.procedure, snap.pack.anesthesia_rules
    by_grade = next((a for a in rules if a.grade == proc.grade), None) if proc.grade is not None else None
    effective = req.anesthesia or proc.anesthesia_max or (by_grade.anesthesia_max if by_grade else None)
    if by_grade is not None and by_grade.requires_anesthetist:
        return effective, by_grade
    if effective is None or effective == LOCAL_ANESTHESIA:
        return effective, None
    needing = sorted((a for a in rules if a.requires_anesthetist), key=lambda a: a.grade)
    same = [a for a in needing if a.anesthesia_max == effective]
    chosen = same or needing
    return effective, chosen[0] if chosen else None


def check_anesthesia(req: DecisionRequest, snap: Snapshot) -> Iterator[Reason]:
    """PG-01/PR-09: anaesthesia beyond local needs a 麻醉科 and a qualified anaesthetist of the institution."""
    effective, rule = anesthesia_needs(req, snap)
    if rule is None:
        return
    ref, inst, proc, on = rule.rule, snap.institution, snap.pack.procedure, req.on
    if not inst.has_anesthesiology:
        yield _deny("ANESTHESIOLOGY_DEPARTMENT_MISSING", ref, institution=inst.name, anesthesia=effective)
    a = snap.anesthetist
    if req.anesthetist_id is None or a is None:
        yield _deny("ANESTHETIST_REQUIRED", ref, procedure=proc.code, anesthesia=effective)
        return
    if a.profession not in (DOCTOR, ANESTHETIST):
        yield _deny("ANESTHETIST_NOT_DOCTOR", ref, anesthetist=a.name, profession=a.profession)
    if a.status != ACTIVE:
        yield _deny("ANESTHETIST_NOT_ACTIVE", ref, anesthetist=a.name, status=a.status)
    if not _registered_here(a, inst.id, on):
        yield _deny("ANESTHETIST_NOT_REGISTERED_HERE", ref, anesthetist=a.name, institution=inst.name)
    state, _best, last = _licence_state(a, PRACTICE_LICENCE, on)
    if state == "missing":
        yield _deny("ANESTHETIST_LICENCE_MISSING", ref, anesthetist=a.name)
    elif state == "expired":
        yield _deny("ANESTHETIST_LICENCE_EXPIRED", ref, anesthetist=a.name, valid_until=last, on=on)
    if ANESTHESIOLOGY_SCOPE not in a.practice_scopes:
        yield _deny(
            "ANESTHETIST_SCOPE_NOT_ANESTHESIOLOGY",
            ref,
            anesthetist=a.name,
            scopes=",".join(sorted(a.practice_scopes)),
        )
    if rule.requires_privilege:
        candidates = [
            x
            for x in snap.authorizations
            if x.kind == QUALIFICATION
            and x.practitioner_id == a.id
            and x.institution_id == inst.id
            and x.procedure_category == ANESTHESIA_PRIVILEGE_CATEGORY
        ]
        best, reasons = _authorization_reasons(
            candidates, on, ref, "ANESTHESIA_PRIVILEGE_MISSING", snap.pack.warn_days, anesthetist=a.name
        )
        yield from reasons
        if (
            best is not None
            and best.max_grade is not None
            and proc.grade is not None
            and proc.grade > best.max_grade
        ):
            yield _deny(
                "AUTHORIZATION_GRADE_LIMIT",
                ref,
                authorization=best.id,
                max_grade=best.max_grade,
                procedure_grade=proc.grade,
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
            and a.practitioner_id == snap.practitioner.id
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
        if device.status == FAILED_CHECK:
            yield _deny("DEVICE_FAILED_CHECK", rule, device=device.serial)
        elif device.status != ACTIVE:
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
            and a.practitioner_id == snap.practitioner.id
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
    check_technology,
    check_anesthesia,
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


# What a practitioner may do in general (no particular lot, device or anaesthetist): the capability list.
PRACTITIONER_CHECKS: tuple[Check, ...] = (
    check_institution,
    check_subject_and_grade,
    check_practitioner,
    check_qualified_for_procedure,
    check_authorization,
    check_technology,
)


def decide(req: DecisionRequest, snap: Snapshot, checks: tuple[Check, ...] = CHECKS) -> Decision:
    reasons = tuple(r for check in checks for r in check(req, snap))
    return Decision(outcome_of(reasons), reasons)
