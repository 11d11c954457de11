"""The scenario table: realistic cases through the pure engine, each with its exact set of reason codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from meiguard.authz.facts import ChiefRequirement, DecisionRequest, ProductUse, SiteFacts, Snapshot
from meiguard.authz.policy import Outcome, decide

from .builders import (
    ANESTHESIA_RULES,
    AT,
    BEIJING,
    BOTOX_LIMIT_RULE,
    CHIEF_SURGERY_RULE,
    DEVICE,
    FILLER_LOT,
    INSTITUTION,
    LOT,
    ON,
    SCOPE_SURGERY_RULE,
    TECHNOLOGY_RULE,
    allowed_case,
    anesthetist,
    authorization,
    doctor,
    nurse,
    pack,
    procedure,
    qual,
    ref,
    technology,
    with_quals,
)

Case = tuple[DecisionRequest, Snapshot]
Mutation = Callable[[DecisionRequest, Snapshot], Case]

D = dt.timedelta(days=1)


def inst(**kw: object) -> Mutation:
    return lambda r, s: (r, replace(s, institution=replace(INSTITUTION, **kw)))  # type: ignore[arg-type]


def prac(**kw: object) -> Mutation:
    return lambda r, s: (r, replace(s, practitioner=replace(s.practitioner, **kw)))  # type: ignore[arg-type]


def snap_(**kw: object) -> Mutation:
    return lambda r, s: (r, replace(s, **kw))  # type: ignore[arg-type]


def req_(**kw: object) -> Mutation:
    return lambda r, s: (replace(r, **kw), s)  # type: ignore[arg-type]


def both(*muts: Mutation) -> Mutation:
    def apply(r: DecisionRequest, s: Snapshot) -> Case:
        for m in muts:
            r, s = m(r, s)
        return r, s

    return apply


def quals(drop: str | None = None, *extra: object, replace_kind: object = None) -> Mutation:
    return lambda r, s: (
        r,
        replace(s, practitioner=with_quals(s.practitioner, drop, *extra, replace_kind=replace_kind)),
    )  # type: ignore[arg-type]


def auths(*a: object) -> Mutation:
    return snap_(authorizations=tuple(a))


BASE_AUTHS = allowed_case()[1].authorizations
SURGERY = procedure("surg-double-eyelid", "cosmetic_surgery", 1, "surgical", "眉眼部")
BREAST = procedure("surg-breast-augmentation", "cosmetic_surgery", 2, "surgical", "乳房")
MANDIBLE = procedure("surg-mandibular-angle-reduction", "cosmetic_surgery", 4, "surgical", "面部轮廓")
LIPO_GUARD = procedure("surg-liposuction-ge5000", "cosmetic_surgery", None, "surgical", "脂肪")
PEEL = procedure("derm-chemical-peel", "cosmetic_dermatology", None, "non-invasive", "化学")
RF = procedure("derm-radiofrequency", "cosmetic_dermatology", None, "energy-device", "光电")
DENTAL = procedure("dent-tooth-whitening", "cosmetic_dentistry", None, "non-invasive", "牙体")
SURGEON_CHIEF = ChiefRequirement(
    "cosmetic_surgery", 6, frozenset({"外科"}), 0, CHIEF_SURGERY_RULE, scope_rule=SCOPE_SURGERY_RULE
)
SUPERVISOR = doctor(
    2,
    qualifications=(
        qual(201, "practice_licence"),
        qual(202, "chief_physician_filing", subject="cosmetic_dermatology", years=8),
    ),
)
no_products = req_(products=(), device_ids=())
surgery_case = both(
    no_products,
    snap_(pack=pack(procedure=SURGERY, chief=SURGEON_CHIEF)),
    prac(
        practice_scopes=frozenset({"外科"}),
        qualifications=(
            qual(101, "practice_licence"),
            qual(102, "chief_physician_filing", subject="cosmetic_surgery", years=7),
        ),
    ),
    auths(authorization(1, procedure_code="surg-double-eyelid")),
)
nurse_peel = both(
    no_products,
    snap_(pack=pack(procedure=PEEL), practitioner=nurse(), supervisor=SUPERVISOR),
    req_(supervisor_id=2),
    auths(authorization(1, practitioner_id=3, procedure_code="derm-chemical-peel")),
)


# ---- anaesthesia (PG-01 / PR-09) ----
BREAST_UNDER_EPIDURAL = replace(BREAST, anesthesia_max="epidural-iv")
SURGERY_LOCAL = replace(SURGERY, anesthesia_max="local")
ANESTHETIST = anesthetist()
grade2_case = both(
    surgery_case,
    snap_(
        pack=pack(procedure=BREAST_UNDER_EPIDURAL, chief=SURGEON_CHIEF, anesthesia_rules=ANESTHESIA_RULES),
        institution=replace(INSTITUTION, has_anesthesiology=True),
        anesthetist=ANESTHETIST,
    ),
    req_(anesthetist_id=9),
    auths(authorization(1, procedure_code="surg-breast-augmentation")),
)
no_anesthetist = both(req_(anesthetist_id=None), snap_(anesthetist=None))


def anest(**kw: object) -> Mutation:
    return lambda r, s: (r, replace(s, anesthetist=replace(s.anesthetist, **kw)))  # type: ignore[arg-type]


PRIVILEGE_RULES = tuple(replace(a, requires_privilege=a.requires_anesthetist) for a in ANESTHESIA_RULES)
privilege_case = both(
    grade2_case,
    lambda r, s: (r, replace(s, pack=replace(s.pack, anesthesia_rules=PRIVILEGE_RULES))),
)
PRIVILEGE = authorization(5, practitioner_id=9, procedure_code="", procedure_category="麻醉")

# ---- technology admission (SP-02) ----
THREAD = procedure("derm-thread-lift", "cosmetic_dermatology", None, "surgical", "微创")
thread_case = both(
    no_products,
    snap_(pack=pack(procedure=THREAD, technology_rule=TECHNOLOGY_RULE)),
    auths(authorization(1, procedure_code="derm-thread-lift"), technology()),
)


def tech(*a: object) -> Mutation:
    return auths(authorization(1, procedure_code="derm-thread-lift"), *a)


# ---- nurses (PR-07) ----
NURSE_RULES = {
    "nurse_min_years": Decimal(2),
    "nurse_qualification_rule": ref("PR-07.nurse", "measures 第十三条"),
    "nurse_renewal_notice_days": 30,
    "nurse_renewal_rule": ref("PR-07.nurse-renewal-notice-days", "nurse-regulation"),
}
nurse_pr07 = both(
    nurse_peel,
    snap_(pack=pack(procedure=PEEL, **NURSE_RULES)),
    prac(practising_since=dt.date(2020, 1, 1)),
)
lapsed_supervisor = replace(
    SUPERVISOR,
    qualifications=(
        qual(201, "practice_licence", valid_until=ON - D),
        qual(202, "chief_physician_filing", subject="cosmetic_dermatology", years=8),
    ),
)
rejected_supervisor = replace(
    SUPERVISOR,
    qualifications=(
        qual(201, "practice_licence", status="rejected"),
        qual(202, "chief_physician_filing", subject="cosmetic_dermatology", years=8),
    ),
)

# ---- Beijing extras (PR-05): same doctor, national vs Beijing chief requirement ----
BJ_CHIEF = replace(
    pack().chief,  # type: ignore[type-var]
    training_min_years=Decimal(1),
    clinical_alternative_years=Decimal(1),
    periodic_assessment_required=True,
    registered_in_province=True,
    rule=ref("PR-02.cosmetic_dermatology", "beijing-chief-filing-qa", layer=BEIJING),
)
beijing = both(
    snap_(pack=pack(chief=BJ_CHIEF)),
    inst(province="北京"),
    prac(main_province="北京"),
    quals(
        None,
        qual(110, "periodic_assessment", valid_from=ON - 400 * D, valid_until=ON + 700 * D),
        qual(111, "aesthetic_training", valid_until=None),
    ),
    lambda r, s: (
        r,
        replace(
            s,
            practitioner=replace(
                s.practitioner,
                qualifications=tuple(
                    replace(q, duration_months=12) if q.kind == "aesthetic_training" else q
                    for q in s.practitioner.qualifications
                ),
            ),
        ),
    ),
)


def bj_quals(keep: Callable[[str], bool], *extra: object) -> Mutation:
    return lambda r, s: (
        r,
        replace(
            s,
            practitioner=replace(
                s.practitioner,
                qualifications=(*(q for q in s.practitioner.qualifications if keep(q.kind)), *extra),
            ),
        ),
    )  # type: ignore[arg-type]


SCENARIOS: list[tuple[str, Mutation, Outcome, set[str]]] = [
    ("all valid", lambda r, s: (r, s), Outcome.ALLOW, set()),
    ("institution suspended", inst(status="suspended"), Outcome.DENY, {"INSTITUTION_NOT_ACTIVE"}),
    (
        "institution licence expired yesterday",
        inst(licence_valid_until=ON - D),
        Outcome.DENY,
        {"INSTITUTION_LICENCE_EXPIRED"},
    ),
    (
        "institution licence valid until today",
        inst(licence_valid_until=ON),
        Outcome.ALLOW_WITH_WARNINGS,
        {"INSTITUTION_LICENCE_EXPIRING"},
    ),
    (
        "institution licence expires in 20 days",
        inst(licence_valid_until=ON + 20 * D),
        Outcome.ALLOW_WITH_WARNINGS,
        {"INSTITUTION_LICENCE_EXPIRING"},
    ),
    ("institution licence expires in 31 days", inst(licence_valid_until=ON + 31 * D), Outcome.ALLOW, set()),
    (
        "institution licence starts tomorrow",
        inst(licence_valid_from=ON + D),
        Outcome.DENY,
        {"INSTITUTION_LICENCE_INVALID"},
    ),
    (
        "institution has no licence dates",
        inst(licence_valid_until=None),
        Outcome.DENY,
        {"INSTITUTION_LICENCE_INVALID"},
    ),
    ("校验 overdue", inst(next_verification_due=ON - D), Outcome.DENY, {"INSTITUTION_VERIFICATION_OVERDUE"}),
    ("校验 due today is not overdue", inst(next_verification_due=ON), Outcome.ALLOW, set()),
    (
        "subject not registered",
        inst(subjects=frozenset({"cosmetic_surgery"})),
        Outcome.DENY,
        {"SUBJECT_NOT_REGISTERED"},
    ),
    ("grade 1 surgery by a surgical chief", surgery_case, Outcome.ALLOW, set()),
    (
        "grade 2 in a grade-1 clinic",
        both(
            surgery_case,
            snap_(pack=pack(procedure=BREAST, chief=SURGEON_CHIEF, permitted_grade=1)),
            auths(authorization(1, procedure_code="surg-breast-augmentation")),
        ),
        Outcome.DENY,
        {"PROCEDURE_GRADE_EXCEEDS_INSTITUTION"},
    ),
    (
        "grade 4 in a 门诊部 (grade 2)",
        both(
            surgery_case,
            snap_(pack=pack(procedure=MANDIBLE, chief=SURGEON_CHIEF)),
            auths(authorization(1, procedure_code="surg-mandibular-angle-reduction")),
        ),
        Outcome.DENY,
        {"PROCEDURE_GRADE_EXCEEDS_INSTITUTION"},
    ),
    (
        "liposuction ≥5000 ml goes to manual review",
        both(
            surgery_case,
            snap_(pack=pack(procedure=LIPO_GUARD, chief=SURGEON_CHIEF)),
            auths(authorization(1, procedure_code="surg-liposuction-ge5000")),
        ),
        Outcome.DENY,
        {"PROCEDURE_REQUIRES_MANUAL_REVIEW"},
    ),
    ("practitioner suspended", prac(status="suspended"), Outcome.DENY, {"PRACTITIONER_NOT_ACTIVE"}),
    ("consultant may not treat", prac(profession="consultant"), Outcome.DENY, {"PROFESSION_NOT_PERMITTED"}),
    ("licence missing", quals("practice_licence"), Outcome.DENY, {"PRACTITIONER_LICENCE_MISSING"}),
    (
        "licence rejected at verification",
        quals(replace_kind=("practice_licence", qual(101, "practice_licence", status="rejected"))),
        Outcome.DENY,
        {"PRACTITIONER_LICENCE_MISSING"},
    ),
    (
        "licence expired",
        quals(replace_kind=("practice_licence", qual(101, "practice_licence", valid_until=ON - D))),
        Outcome.DENY,
        {"PRACTITIONER_LICENCE_EXPIRED"},
    ),
    (
        "licence valid until today",
        quals(replace_kind=("practice_licence", qual(101, "practice_licence", valid_until=ON))),
        Outcome.ALLOW_WITH_WARNINGS,
        {"PRACTITIONER_LICENCE_EXPIRING"},
    ),
    (
        "licence not yet verified",
        quals(replace_kind=("practice_licence", qual(101, "practice_licence", status="unverified"))),
        Outcome.ALLOW_WITH_WARNINGS,
        {"QUALIFICATION_UNVERIFIED"},
    ),
    (
        "not registered here",
        prac(main_institution_id=999),
        Outcome.DENY,
        {"PRACTITIONER_NOT_REGISTERED_HERE"},
    ),
    (
        "multi-site registration here",
        prac(main_institution_id=999, sites=(SiteFacts(100, ON - D, ON + D),)),
        Outcome.ALLOW,
        set(),
    ),
    (
        "multi-site registration ended",
        prac(main_institution_id=999, sites=(SiteFacts(100, None, ON - D),)),
        Outcome.DENY,
        {"PRACTITIONER_NOT_REGISTERED_HERE"},
    ),
    (
        "dermatology-only doctor does surgery",
        both(
            surgery_case,
            prac(
                practice_scopes=frozenset({"皮肤病与性病"}),
                qualifications=(
                    qual(101, "practice_licence"),
                    qual(102, "chief_physician_filing", subject="cosmetic_dermatology", years=7),
                ),
            ),
        ),
        Outcome.DENY,
        {"PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "no filing, no supervisor",
        quals("chief_physician_filing"),
        Outcome.DENY,
        {"PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "no filing, supervised by a present 主诊",
        both(quals("chief_physician_filing"), snap_(supervisor=SUPERVISOR), req_(supervisor_id=2)),
        Outcome.ALLOW,
        set(),
    ),
    (
        "supervisor is not a 主诊 of the subject",
        both(
            quals("chief_physician_filing"),
            req_(supervisor_id=2),
            snap_(supervisor=replace(SUPERVISOR, qualifications=(qual(201, "practice_licence"),))),
        ),
        Outcome.DENY,
        {"SUPERVISOR_NOT_CHIEF_FOR_SUBJECT", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "supervisor suspended",
        both(
            quals("chief_physician_filing"),
            req_(supervisor_id=2),
            snap_(supervisor=replace(SUPERVISOR, status="suspended")),
        ),
        Outcome.DENY,
        {"SUPERVISOR_NOT_ACTIVE", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "supervisor from another institution",
        both(
            quals("chief_physician_filing"),
            req_(supervisor_id=2),
            snap_(supervisor=replace(SUPERVISOR, main_institution_id=999)),
        ),
        Outcome.DENY,
        {"SUPERVISOR_NOT_REGISTERED_HERE", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "filing expired",
        quals(
            replace_kind=(
                "chief_physician_filing",
                qual(
                    102, "chief_physician_filing", subject="cosmetic_dermatology", years=5, valid_until=ON - D
                ),
            )
        ),
        Outcome.DENY,
        {"PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "scope not accepted for the subject (PR-06)",
        prac(practice_scopes=frozenset({"内科"})),
        Outcome.DENY,
        {"PRACTITIONER_SCOPE_NOT_ACCEPTED"},
    ),
    (
        "too few years for 主诊 (PR-02)",
        quals(
            replace_kind=(
                "chief_physician_filing",
                qual(102, "chief_physician_filing", subject="cosmetic_dermatology", years=2),
            )
        ),
        Outcome.DENY,
        {"CHIEF_FILING_YEARS_SHORT"},
    ),
    (
        "Beijing needs 主治 title (PR-05)",
        both(snap_(pack=pack(chief=replace(pack().chief, min_title_rank=2))), prac(title_rank=1)),  # type: ignore[type-var]
        Outcome.DENY,
        {"PRACTITIONER_TITLE_TOO_LOW"},
    ),
    ("nurse does a peel under supervision", nurse_peel, Outcome.ALLOW, set()),
    (
        "nurse injects toxin",
        both(
            nurse_peel,
            snap_(pack=pack()),
            req_(products=(ProductUse(500, Decimal(50), "U"),)),
            auths(authorization(1, practitioner_id=3), authorization(2, "product", practitioner_id=3)),
        ),
        Outcome.DENY,
        {"NURSE_PROCEDURE_NOT_PERMITTED", "TRAINING_CERTIFICATE_MISSING"},
    ),
    (
        "nurse without supervisor",
        both(nurse_peel, req_(supervisor_id=None)),
        Outcome.DENY,
        {"NURSE_SUPERVISION_REQUIRED"},
    ),
    (
        "nurse short of training hours",
        both(
            nurse_peel,
            quals(
                replace_kind=("nurse_training_hours", qual(302, "nurse_training_hours", hours=Decimal(80)))
            ),
        ),
        Outcome.DENY,
        {"NURSE_TRAINING_HOURS_SHORT"},
    ),
    (
        "nurse registration expired",
        both(
            nurse_peel,
            quals(replace_kind=("nurse_registration", qual(301, "nurse_registration", valid_until=ON - D))),
        ),
        Outcome.DENY,
        {"PRACTITIONER_LICENCE_EXPIRED"},
    ),
    ("no authorization", auths(*BASE_AUTHS[1:]), Outcome.DENY, {"AUTHORIZATION_MISSING"}),
    (
        "authorization starts tomorrow",
        auths(authorization(1, valid_from=ON + D), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_NOT_YET_VALID"},
    ),
    (
        "authorization started today",
        auths(authorization(1, valid_from=ON), *BASE_AUTHS[1:]),
        Outcome.ALLOW,
        set(),
    ),
    (
        "authorization ended yesterday",
        auths(authorization(1, valid_until=ON - D), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_EXPIRED"},
    ),
    (
        "authorization ends in 10 days",
        auths(authorization(1, valid_until=ON + 10 * D), *BASE_AUTHS[1:]),
        Outcome.ALLOW_WITH_WARNINGS,
        {"AUTHORIZATION_EXPIRING"},
    ),
    (
        "authorization suspended",
        auths(authorization(1, status="suspended"), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_SUSPENDED"},
    ),
    (
        "authorization revoked",
        auths(authorization(1, status="revoked"), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_REVOKED"},
    ),
    (
        "authorization still a draft",
        auths(authorization(1, status="draft"), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_NOT_ACTIVE"},
    ),
    (
        "authorization at another institution",
        auths(authorization(1, institution_id=999), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_MISSING"},
    ),
    (
        "authorization by category covers the item",
        auths(
            authorization(1, procedure_code="", procedure_category="注射", subject="cosmetic_dermatology"),
            *BASE_AUTHS[1:],
        ),
        Outcome.ALLOW,
        set(),
    ),
    (
        "authorization by subject covers the item",
        auths(authorization(1, procedure_code="", subject="cosmetic_dermatology"), *BASE_AUTHS[1:]),
        Outcome.ALLOW,
        set(),
    ),
    (
        "authorization needs a named supervisor",
        auths(authorization(1, supervisor_id=2), *BASE_AUTHS[1:]),
        Outcome.DENY,
        {"AUTHORIZATION_REQUIRES_SUPERVISOR"},
    ),
    (
        "authorization limited to grade 1",
        both(
            surgery_case,
            snap_(pack=pack(procedure=BREAST, chief=SURGEON_CHIEF)),
            auths(authorization(1, procedure_code="surg-breast-augmentation", max_grade=1)),
        ),
        Outcome.DENY,
        {"AUTHORIZATION_GRADE_LIMIT"},
    ),
    (
        "lot recalled",
        snap_(lots=(replace(LOT, status="recalled", recall_level=1), FILLER_LOT)),
        Outcome.DENY,
        {"LOT_RECALLED"},
    ),
    (
        "lot expired yesterday",
        snap_(lots=(replace(LOT, expiry=ON - D), FILLER_LOT)),
        Outcome.DENY,
        {"LOT_EXPIRED"},
    ),
    ("lot expires today", snap_(lots=(replace(LOT, expiry=ON), FILLER_LOT)), Outcome.ALLOW, set()),
    (
        "lot quarantined",
        snap_(lots=(replace(LOT, status="quarantined"), FILLER_LOT)),
        Outcome.DENY,
        {"LOT_UNAVAILABLE"},
    ),
    (
        "lot of another institution",
        snap_(lots=(replace(LOT, institution_id=999), FILLER_LOT)),
        Outcome.DENY,
        {"LOT_NOT_AT_INSTITUTION"},
    ),
    ("unknown lot", req_(products=(ProductUse(404, Decimal(10), "U"),)), Outcome.DENY, {"LOT_NOT_FOUND"}),
    (
        "grey import without registration",
        snap_(lots=(replace(LOT, product=replace(LOT.product, registration_no="")), FILLER_LOT)),
        Outcome.DENY,
        {"PRODUCT_UNREGISTERED"},
    ),
    (
        "registration expired",
        snap_(lots=(replace(LOT, product=replace(LOT.product, registration_valid_until=ON - D)), FILLER_LOT)),
        Outcome.DENY,
        {"PRODUCT_REGISTRATION_EXPIRED"},
    ),
    (
        "supplier not authorized",
        snap_(lots=(replace(LOT, product=replace(LOT.product, distribution_windows=())), FILLER_LOT)),
        Outcome.DENY,
        {"SUPPLIER_NOT_AUTHORIZED"},
    ),
    (
        "no product authorization for the brand",
        auths(BASE_AUTHS[0], BASE_AUTHS[2]),
        Outcome.DENY,
        {"PRODUCT_AUTHORIZATION_MISSING"},
    ),
    (
        "no manufacturer training certificate",
        quals(
            replace_kind=("training_certificate", qual(104, "training_certificate", reference="热玛吉-FLX"))
        ),
        Outcome.DENY,
        {"TRAINING_CERTIFICATE_MISSING"},
    ),
    (
        "training certificate expired",
        quals(
            replace_kind=(
                "training_certificate",
                qual(103, "training_certificate", reference="衡力", valid_until=ON - D),
            ),
        ),
        Outcome.DENY,
        {"TRAINING_CERTIFICATE_EXPIRED", "TRAINING_CERTIFICATE_MISSING"},
    ),
    ("200 U is within the limit", req_(products=(ProductUse(500, Decimal(200), "U"),)), Outcome.ALLOW, set()),
    (
        "201 U is over the limit",
        req_(products=(ProductUse(500, Decimal(201), "U"),)),
        Outcome.DENY,
        {"DOSE_OVER_LIMIT"},
    ),
    (
        "two lots add up over the limit",
        req_(products=(ProductUse(500, Decimal(120), "U"), ProductUse(500, Decimal(100), "U"))),
        Outcome.DENY,
        {"DOSE_OVER_LIMIT"},
    ),
    (
        "dose in the wrong unit",
        req_(products=(ProductUse(500, Decimal(2), "ml"),)),
        Outcome.DENY,
        {"DOSE_UNIT_MISMATCH"},
    ),
    ("toxin without a dose", req_(products=(ProductUse(500),)), Outcome.DENY, {"DOSE_REQUIRED"}),
    (
        "filler site over 40 minutes",
        req_(products=(ProductUse(500, Decimal(50), "U"), ProductUse(501, Decimal(1), "ml", minutes=45))),
        Outcome.DENY,
        {"DURATION_OVER_LIMIT"},
    ),
    (
        "filler site at 40 minutes",
        req_(products=(ProductUse(500, Decimal(50), "U"), ProductUse(501, Decimal(1), "ml", minutes=40))),
        Outcome.ALLOW,
        set(),
    ),
    (
        "device calibration overdue",
        snap_(devices=(replace(DEVICE, next_calibration_due=ON - D),)),
        Outcome.DENY,
        {"DEVICE_CALIBRATION_OVERDUE"},
    ),
    (
        "device inspection overdue",
        snap_(devices=(replace(DEVICE, next_inspection_due=ON - D),)),
        Outcome.DENY,
        {"DEVICE_INSPECTION_OVERDUE"},
    ),
    (
        "device in maintenance",
        snap_(devices=(replace(DEVICE, status="maintenance"),)),
        Outcome.DENY,
        {"DEVICE_NOT_ACTIVE"},
    ),
    (
        "device failed its inspection or calibration",
        snap_(devices=(replace(DEVICE, status="failed_check"),)),
        Outcome.DENY,
        {"DEVICE_FAILED_CHECK"},
    ),
    (
        "device back in service after a passing record",
        snap_(devices=(replace(DEVICE, status="active", next_inspection_due=ON + D),)),
        Outcome.ALLOW,
        set(),
    ),
    (
        "device of another institution",
        snap_(devices=(replace(DEVICE, institution_id=999),)),
        Outcome.DENY,
        {"DEVICE_NOT_AT_INSTITUTION"},
    ),
    ("unknown device", req_(device_ids=(404,)), Outcome.DENY, {"DEVICE_NOT_FOUND"}),
    ("no device authorization", auths(*BASE_AUTHS[:2]), Outcome.DENY, {"DEVICE_AUTHORIZATION_MISSING"}),
    (
        "device registration expired",
        snap_(devices=(replace(DEVICE, product=replace(DEVICE.product, registration_valid_until=ON - D)),)),
        Outcome.DENY,
        {"PRODUCT_REGISTRATION_EXPIRED"},
    ),
    (
        "RF treatment without a device",
        both(
            no_products,
            snap_(pack=pack(procedure=RF)),
            auths(authorization(1, procedure_code="derm-radiofrequency")),
        ),
        Outcome.DENY,
        {"DEVICE_REQUIRED"},
    ),
    (
        "dental item in a clinic without 美容牙科",
        both(
            no_products,
            snap_(pack=pack(procedure=DENTAL, chief=None)),
            auths(authorization(1, procedure_code="dent-tooth-whitening")),
        ),
        Outcome.DENY,
        {"SUBJECT_NOT_REGISTERED", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    (
        "several failures at once",
        both(
            inst(licence_valid_until=ON - D),
            prac(status="suspended"),
            snap_(lots=(replace(LOT, status="recalled", recall_level=2), FILLER_LOT)),
            req_(products=(ProductUse(500, Decimal(300), "U"),)),
        ),
        Outcome.DENY,
        {"INSTITUTION_LICENCE_EXPIRED", "PRACTITIONER_NOT_ACTIVE", "LOT_RECALLED", "DOSE_OVER_LIMIT"},
    ),
    # ---- anaesthesia (PG-01 / PR-09) ----
    ("grade 2 with a qualified anaesthetist", grade2_case, Outcome.ALLOW, set()),
    (
        "grade 1 under local anaesthesia needs no anaesthetist",
        both(
            surgery_case,
            snap_(pack=pack(procedure=SURGERY_LOCAL, chief=SURGEON_CHIEF, anesthesia_rules=ANESTHESIA_RULES)),
        ),
        Outcome.ALLOW,
        set(),
    ),
    (
        "grade 2 without an anaesthetist",
        both(grade2_case, no_anesthetist),
        Outcome.DENY,
        {"ANESTHETIST_REQUIRED"},
    ),
    (
        "grade 2 asked as local still needs an anaesthetist (PG-01.grade-2)",
        both(grade2_case, no_anesthetist, req_(anesthesia="local")),
        Outcome.DENY,
        {"ANESTHETIST_REQUIRED"},
    ),
    (
        "grade 1 item under general anaesthesia needs an anaesthetist",
        both(
            surgery_case,
            snap_(pack=pack(procedure=SURGERY_LOCAL, chief=SURGEON_CHIEF, anesthesia_rules=ANESTHESIA_RULES)),
            req_(anesthesia="general"),
        ),
        Outcome.DENY,
        {"ANESTHESIOLOGY_DEPARTMENT_MISSING", "ANESTHETIST_REQUIRED"},
    ),
    (
        "grade 2 in an outpatient department without 麻醉科",
        both(grade2_case, inst(has_anesthesiology=False)),
        Outcome.DENY,
        {"ANESTHESIOLOGY_DEPARTMENT_MISSING"},
    ),
    (
        "anaesthetist is a nurse",
        both(grade2_case, anest(profession="nurse")),
        Outcome.DENY,
        {"ANESTHETIST_NOT_DOCTOR"},
    ),
    (
        "anaesthetist with profession 麻醉医师",
        both(grade2_case, anest(profession="anesthetist")),
        Outcome.ALLOW,
        set(),
    ),
    (
        "anaesthetist suspended",
        both(grade2_case, anest(status="suspended")),
        Outcome.DENY,
        {"ANESTHETIST_NOT_ACTIVE"},
    ),
    (
        "anaesthetist registered elsewhere",
        both(grade2_case, anest(main_institution_id=999)),
        Outcome.DENY,
        {"ANESTHETIST_NOT_REGISTERED_HERE"},
    ),
    (
        "anaesthetist with a multi-site registration here",
        both(grade2_case, anest(main_institution_id=999, sites=(SiteFacts(100, ON - D, None),))),
        Outcome.ALLOW,
        set(),
    ),
    (
        "anaesthetist licence rejected",
        both(grade2_case, anest(qualifications=(qual(901, "practice_licence", status="rejected"),))),
        Outcome.DENY,
        {"ANESTHETIST_LICENCE_MISSING"},
    ),
    (
        "anaesthetist licence expired",
        both(grade2_case, anest(qualifications=(qual(901, "practice_licence", valid_until=ON - D),))),
        Outcome.DENY,
        {"ANESTHETIST_LICENCE_EXPIRED"},
    ),
    (
        "anaesthetist's scope is surgery",
        both(grade2_case, anest(practice_scopes=frozenset({"外科"}))),
        Outcome.DENY,
        {"ANESTHETIST_SCOPE_NOT_ANESTHESIOLOGY"},
    ),
    ("privilege required and missing", privilege_case, Outcome.DENY, {"ANESTHESIA_PRIVILEGE_MISSING"}),
    (
        "privilege required and held",
        both(privilege_case, auths(authorization(1, procedure_code="surg-breast-augmentation"), PRIVILEGE)),
        Outcome.ALLOW,
        set(),
    ),
    (
        "privilege suspended",
        both(
            privilege_case,
            auths(
                authorization(1, procedure_code="surg-breast-augmentation"),
                replace(PRIVILEGE, status="suspended"),
            ),
        ),
        Outcome.DENY,
        {"AUTHORIZATION_SUSPENDED"},
    ),
    (
        "privilege limited to grade 1",
        both(
            privilege_case,
            auths(
                authorization(1, procedure_code="surg-breast-augmentation"), replace(PRIVILEGE, max_grade=1)
            ),
        ),
        Outcome.DENY,
        {"AUTHORIZATION_GRADE_LIMIT"},
    ),
    (
        "the operator cannot use the anaesthetist's authorization",
        both(
            grade2_case, auths(authorization(1, practitioner_id=9, procedure_code="surg-breast-augmentation"))
        ),
        Outcome.DENY,
        {"AUTHORIZATION_MISSING"},
    ),
    # ---- technology admission (SP-02) ----
    ("thread lift with an institution-wide technology authorization", thread_case, Outcome.ALLOW, set()),
    (
        "thread lift with a technology authorization naming the operator",
        both(thread_case, tech(technology(practitioner_id=1))),
        Outcome.ALLOW,
        set(),
    ),
    (
        "thread lift without technology authorization",
        both(thread_case, tech()),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_MISSING"},
    ),
    (
        "technology authorization for another practitioner",
        both(thread_case, tech(technology(practitioner_id=2))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_MISSING"},
    ),
    (
        "technology authorization of another institution",
        both(thread_case, tech(technology(institution_id=999))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_MISSING"},
    ),
    (
        "technology authorization for another item",
        both(thread_case, tech(technology(procedure_code="derm-dermal-ha-hydration"))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_MISSING"},
    ),
    (
        "technology authorization starts tomorrow",
        both(thread_case, tech(technology(valid_from=ON + D))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_NOT_YET_VALID"},
    ),
    (
        "technology authorization ended yesterday",
        both(thread_case, tech(technology(valid_until=ON - D))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_EXPIRED"},
    ),
    (
        "technology authorization ends in 10 days",
        both(thread_case, tech(technology(valid_until=ON + 10 * D))),
        Outcome.ALLOW_WITH_WARNINGS,
        {"TECHNOLOGY_AUTHORIZATION_EXPIRING"},
    ),
    (
        "technology authorization suspended",
        both(thread_case, tech(technology(status="suspended"))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_SUSPENDED"},
    ),
    (
        "technology authorization revoked",
        both(thread_case, tech(technology(status="revoked"))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_REVOKED"},
    ),
    (
        "technology authorization still a draft",
        both(thread_case, tech(technology(status="draft"))),
        Outcome.DENY,
        {"TECHNOLOGY_AUTHORIZATION_NOT_ACTIVE"},
    ),
    # ---- supervisor licence ----
    (
        "nurse supervised by a 主诊 whose licence lapsed",
        both(nurse_peel, snap_(supervisor=lapsed_supervisor)),
        Outcome.DENY,
        {"SUPERVISOR_LICENCE_EXPIRED", "NURSE_SUPERVISION_REQUIRED"},
    ),
    (
        "nurse supervised by a 主诊 whose licence was rejected",
        both(nurse_peel, snap_(supervisor=rejected_supervisor)),
        Outcome.DENY,
        {"SUPERVISOR_LICENCE_MISSING", "NURSE_SUPERVISION_REQUIRED"},
    ),
    (
        "doctor supervised by a 主诊 whose licence lapsed",
        both(quals("chief_physician_filing"), snap_(supervisor=lapsed_supervisor), req_(supervisor_id=2)),
        Outcome.DENY,
        {"SUPERVISOR_LICENCE_EXPIRED", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"},
    ),
    # ---- nurses: experience and renewal notice (PR-07) ----
    ("nurse with six years of nursing", nurse_pr07, Outcome.ALLOW, set()),
    (
        "nurse with exactly two years of nursing",
        both(nurse_pr07, prac(practising_since=dt.date(2024, 3, 3))),
        Outcome.ALLOW,
        set(),
    ),
    (
        "nurse one day short of two years",
        both(nurse_pr07, prac(practising_since=dt.date(2024, 3, 4))),
        Outcome.DENY,
        {"NURSE_EXPERIENCE_SHORT"},
    ),
    (
        "nurse with no start of practice recorded",
        both(nurse_pr07, prac(practising_since=None)),
        Outcome.ALLOW_WITH_WARNINGS,
        {"NURSE_EXPERIENCE_UNKNOWN"},
    ),
    (
        "nurse registration expires in 20 days",
        both(
            nurse_pr07,
            quals(
                replace_kind=("nurse_registration", qual(301, "nurse_registration", valid_until=ON + 20 * D))
            ),
        ),
        Outcome.ALLOW_WITH_WARNINGS,
        {"NURSE_REGISTRATION_RENEWAL_DUE"},
    ),
    (
        "nurse registration expires in 20 days, pack without a renewal rule",
        both(
            nurse_peel,
            quals(
                replace_kind=("nurse_registration", qual(301, "nurse_registration", valid_until=ON + 20 * D))
            ),
        ),
        Outcome.ALLOW_WITH_WARNINGS,
        {"PRACTITIONER_LICENCE_EXPIRING"},
    ),
    (
        "nurse registration expires in 31 days",
        both(
            nurse_pr07,
            quals(
                replace_kind=("nurse_registration", qual(301, "nurse_registration", valid_until=ON + 31 * D))
            ),
        ),
        Outcome.ALLOW,
        set(),
    ),
    # ---- 校验 notice (IN-04) ----
    (
        "校验 due in two months",
        both(
            snap_(
                pack=pack(
                    verification_notice_months=3,
                    verification_notice_rule=ref(
                        "IN-04.verification-notice-months", "verification-rules-2009"
                    ),
                )
            ),
            inst(next_verification_due=ON + 60 * D),
        ),
        Outcome.ALLOW_WITH_WARNINGS,
        {"INSTITUTION_VERIFICATION_DUE_SOON"},
    ),
    (
        "校验 due in four months",
        both(
            snap_(
                pack=pack(
                    verification_notice_months=3,
                    verification_notice_rule=ref(
                        "IN-04.verification-notice-months", "verification-rules-2009"
                    ),
                )
            ),
            inst(next_verification_due=ON + 122 * D),
        ),
        Outcome.ALLOW,
        set(),
    ),
    # ---- Beijing extras (PR-05) ----
    ("Beijing 主诊 meeting PR-05", beijing, Outcome.ALLOW, set()),
    (
        "the same doctor without PR-05 records, under the national pack",
        bj_quals(lambda k: k not in ("periodic_assessment", "aesthetic_training")),
        Outcome.ALLOW,
        set(),
    ),
    (
        "Beijing 主诊 registered in Hebei",
        both(beijing, prac(main_province="河北")),
        Outcome.DENY,
        {"CHIEF_NOT_REGISTERED_IN_PROVINCE"},
    ),
    (
        "Beijing 主诊 without periodic assessment",
        both(beijing, bj_quals(lambda k: k != "periodic_assessment")),
        Outcome.DENY,
        {"PERIODIC_ASSESSMENT_NOT_CURRENT"},
    ),
    (
        "Beijing 主诊 whose periodic assessment lapsed",
        both(
            beijing,
            bj_quals(
                lambda k: k != "periodic_assessment", qual(112, "periodic_assessment", valid_until=ON - D)
            ),
        ),
        Outcome.DENY,
        {"PERIODIC_ASSESSMENT_NOT_CURRENT"},
    ),
    (
        "Beijing 主诊 with six months of training",
        both(
            beijing,
            bj_quals(
                lambda k: k != "aesthetic_training",
                replace(qual(113, "aesthetic_training", valid_until=None), duration_months=6),
            ),
        ),
        Outcome.DENY,
        {"CHIEF_TRAINING_SHORT"},
    ),
    (
        "Beijing 主诊 with six months of training but a year of aesthetic clinical work",
        both(
            beijing,
            bj_quals(
                lambda k: k != "aesthetic_training",
                replace(qual(113, "aesthetic_training", valid_until=None), duration_months=6),
                replace(qual(114, "aesthetic_clinical_work", valid_until=None), duration_months=12),
            ),
        ),
        Outcome.ALLOW,
        set(),
    ),
    (
        "late evening UTC is the next day in China",
        both(
            req_(at=dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)),
            auths(authorization(1, valid_from=ON), *BASE_AUTHS[1:]),
        ),
        Outcome.ALLOW,
        set(),
    ),
    (
        "early evening UTC is still the day before",
        both(
            req_(at=dt.datetime(2026, 3, 2, 15, 59, tzinfo=dt.UTC)),
            auths(authorization(1, valid_from=ON), *BASE_AUTHS[1:]),
        ),
        Outcome.DENY,
        {"AUTHORIZATION_NOT_YET_VALID"},
    ),
]


@pytest.mark.parametrize(("name", "mutate", "outcome", "codes"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(name: str, mutate: Mutation, outcome: Outcome, codes: set[str]) -> None:
    req, snap = mutate(*allowed_case())
    decision = decide(req, snap)
    assert set(decision.codes()) == codes, decision.reasons
    assert decision.outcome == outcome


def test_the_table_is_large_enough_and_covers_every_code() -> None:
    from meiguard.authz.reasons import REASONS

    assert len(SCENARIOS) >= 40
    seen = set().union(*(codes for *_, codes in SCENARIOS))
    assert set(REASONS) - seen == set(), "codes without a scenario"
    assert seen - set(REASONS) == set(), "codes without a documented message"


def test_reasons_carry_rule_and_facts() -> None:
    req, snap = allowed_case()
    decision = decide(replace(req, products=(ProductUse(500, Decimal(300), "U"),)), snap)
    (reason,) = decision.reasons
    assert reason.rule == BOTOX_LIMIT_RULE
    assert reason.rule.rule_id == "INST.botulinum-units-per-session"
    assert reason.rule.layer == "institution"
    assert [c.doc for c in reason.rule.citations] == ["operating-plan-2026"]
    assert "seed" not in reason.rule.source
    assert reason.fact("dose") == "300U"
    assert reason.fact("limit") == "200U"


def test_on_is_the_calendar_day_in_china() -> None:
    req, _ = allowed_case()
    assert req.on == ON
    assert replace(req, at=AT.astimezone(dt.UTC)).on == ON
    assert replace(req, at=dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)).on == ON
    assert replace(req, at=dt.datetime(2026, 3, 2, 15, 59, tzinfo=dt.UTC)).on == ON - D


def test_messages_show_labels_not_codes_in_both_languages() -> None:
    from django.utils import translation

    from meiguard.authz.reasons import reason_message

    req, snap = allowed_case()
    (reason,) = decide(replace(req, products=(ProductUse(500, Decimal(300), "U"),)), snap).reasons
    with translation.override("zh-hans"):
        assert "A型肉毒毒素" in reason_message(reason)
    with translation.override("en"):
        message = reason_message(reason)
    assert "botulinum_toxin_a" not in message
    assert reason.fact("ingredient") == "botulinum_toxin_a"
