"""Properties of the pure engine (hypothesis)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meiguard.authz.facts import CHINA_TZ, DecisionRequest, ProductUse, Snapshot
from meiguard.authz.policy import Outcome, decide

from .builders import (
    ANESTHESIA_RULES,
    DEVICE,
    FILLER_LOT,
    LOT,
    TECHNOLOGY_RULE,
    allowed_case,
    anesthetist,
    technology,
    with_quals,
)


def _drop_qual(kind: str, reference: str = ""):
    def apply(req: DecisionRequest, snap: Snapshot):
        quals = tuple(
            q
            for q in snap.practitioner.qualifications
            if not (q.kind == kind and (not reference or q.reference == reference))
        )
        return req, replace(snap, practitioner=replace(snap.practitioner, qualifications=quals))

    return apply


def _drop_auth(kind: str):
    return lambda req, snap: (
        req,
        replace(snap, authorizations=tuple(a for a in snap.authorizations if a.kind != kind)),
    )


# Each required fact, taken away, and the reason that must then appear.
REMOVALS = {
    "institution licence": (
        lambda r, s: (r, replace(s, institution=replace(s.institution, licence_valid_until=None))),
        "INSTITUTION_LICENCE_INVALID",
    ),
    "institution active": (
        lambda r, s: (r, replace(s, institution=replace(s.institution, status="closed"))),
        "INSTITUTION_NOT_ACTIVE",
    ),
    "registered subject": (
        lambda r, s: (r, replace(s, institution=replace(s.institution, subjects=frozenset()))),
        "SUBJECT_NOT_REGISTERED",
    ),
    "permitted grade": (
        lambda r, s: (
            r,
            replace(s, pack=replace(s.pack, procedure=replace(s.pack.procedure, grade=1), permitted_grade=0)),
        ),
        "PROCEDURE_GRADE_EXCEEDS_INSTITUTION",
    ),
    "practitioner active": (
        lambda r, s: (r, replace(s, practitioner=replace(s.practitioner, status="left"))),
        "PRACTITIONER_NOT_ACTIVE",
    ),
    "practice licence": (_drop_qual("practice_licence"), "PRACTITIONER_LICENCE_MISSING"),
    "registration here": (
        lambda r, s: (r, replace(s, practitioner=replace(s.practitioner, main_institution_id=-1))),
        "PRACTITIONER_NOT_REGISTERED_HERE",
    ),
    "主诊 filing": (_drop_qual("chief_physician_filing"), "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"),
    "accepted scope": (
        lambda r, s: (r, replace(s, practitioner=replace(s.practitioner, practice_scopes=frozenset()))),
        "PRACTITIONER_SCOPE_NOT_ACCEPTED",
    ),
    "procedure authorization": (_drop_auth("qualification"), "AUTHORIZATION_MISSING"),
    "product authorization": (_drop_auth("product"), "PRODUCT_AUTHORIZATION_MISSING"),
    "device authorization": (_drop_auth("device"), "DEVICE_AUTHORIZATION_MISSING"),
    "product training": (_drop_qual("training_certificate", "衡力"), "TRAINING_CERTIFICATE_MISSING"),
    "device training": (_drop_qual("training_certificate", "热玛吉-FLX"), "TRAINING_CERTIFICATE_MISSING"),
    "lot available": (
        lambda r, s: (r, replace(s, lots=(replace(LOT, status="recalled"), FILLER_LOT))),
        "LOT_RECALLED",
    ),
    "lot in date": (
        lambda r, s: (r, replace(s, lots=(replace(LOT, expiry=r.on - dt.timedelta(days=1)), FILLER_LOT))),
        "LOT_EXPIRED",
    ),
    "lot here": (
        lambda r, s: (r, replace(s, lots=(replace(LOT, institution_id=-1), FILLER_LOT))),
        "LOT_NOT_AT_INSTITUTION",
    ),
    "product registration": (
        lambda r, s: (
            r,
            replace(s, lots=(replace(LOT, product=replace(LOT.product, registration_no="")), FILLER_LOT)),
        ),
        "PRODUCT_UNREGISTERED",
    ),
    "supplier authorization": (
        lambda r, s: (
            r,
            replace(
                s, lots=(replace(LOT, product=replace(LOT.product, distribution_windows=())), FILLER_LOT)
            ),
        ),
        "SUPPLIER_NOT_AUTHORIZED",
    ),
    "dose": (lambda r, s: (replace(r, products=(ProductUse(500),)), s), "DOSE_REQUIRED"),
    "device active": (
        lambda r, s: (r, replace(s, devices=(replace(DEVICE, status="retired"),))),
        "DEVICE_NOT_ACTIVE",
    ),
    # The item becomes one a technology rule lists (SP-02) and the technology authorization is taken away.
    "technology authorization": (
        lambda r, s: (r, replace(s, pack=replace(s.pack, technology_rule=TECHNOLOGY_RULE))),
        "TECHNOLOGY_AUTHORIZATION_MISSING",
    ),
    # Under general anaesthesia (PG-01/PR-09), the anaesthetist is taken away.
    "anaesthetist": (
        lambda r, s: (
            replace(r, anesthesia="general", anesthetist_id=None),
            replace(
                s,
                pack=replace(s.pack, anesthesia_rules=ANESTHESIA_RULES),
                institution=replace(s.institution, has_anesthesiology=True),
            ),
        ),
        "ANESTHETIST_REQUIRED",
    ),
    "device calibration": (
        lambda r, s: (
            r,
            replace(s, devices=(replace(DEVICE, next_calibration_due=r.on - dt.timedelta(days=1)),)),
        ),
        "DEVICE_CALIBRATION_OVERDUE",
    ),
}

times = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 11, 1), timezones=st.just(CHINA_TZ)
)
doses = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(200), places=1)


@settings(max_examples=300, deadline=None)
@given(removal=st.sampled_from(sorted(REMOVALS)), at=times, dose=doses)
def test_taking_away_any_required_fact_denies_with_the_matching_reason(
    removal: str, at: dt.datetime, dose: Decimal
) -> None:
    req, snap = allowed_case()
    req = replace(req, at=at, products=(ProductUse(500, dose, "U"),))
    assert decide(req, snap).outcome == Outcome.ALLOW  # the base case really is allowed at this time and dose
    mutate, code = REMOVALS[removal]
    req2, snap2 = mutate(req, snap)
    decision = decide(req2, snap2)
    assert decision.outcome == Outcome.DENY
    assert code in decision.codes()


@settings(max_examples=200, deadline=None)
@given(at=times, dose=st.decimals(min_value=0, max_value=1000, places=2), minutes=st.integers(0, 120))
def test_equal_inputs_give_equal_decisions(at: dt.datetime, dose: Decimal, minutes: int) -> None:
    req, snap = allowed_case()
    req = replace(
        req, at=at, products=(ProductUse(500, dose, "U"), ProductUse(501, Decimal(1), "ml", minutes=minutes))
    )
    twin_req, twin_snap = allowed_case()
    twin_req = replace(
        twin_req,
        at=at,
        products=(ProductUse(500, dose, "U"), ProductUse(501, Decimal(1), "ml", minutes=minutes)),
    )
    assert decide(req, snap) == decide(twin_req, twin_snap)
    assert decide(req, snap) == decide(req, snap)


@settings(max_examples=200, deadline=None)
@given(dose=st.decimals(min_value=0, max_value=1000, places=1))
def test_dose_limit_is_exactly_the_boundary(dose: Decimal) -> None:
    req, snap = allowed_case()
    decision = decide(replace(req, products=(ProductUse(500, dose, "U"),)), snap)
    assert ("DOSE_OVER_LIMIT" in decision.codes()) == (dose > 200)


def test_removals_cover_a_fact_of_every_check() -> None:
    from meiguard.authz.policy import CHECKS

    req, snap = allowed_case()
    fired_by_check = set()
    for mutate, _code in REMOVALS.values():
        r, s = mutate(req, snap)
        for check in CHECKS:
            if list(check(r, s)):
                fired_by_check.add(check.__name__)
    assert fired_by_check == {c.__name__ for c in CHECKS}


def test_with_quals_helper_keeps_other_qualifications() -> None:
    _, snap = allowed_case()
    p = with_quals(snap.practitioner, "practice_licence")
    assert {q.kind for q in p.qualifications} == {"chief_physician_filing", "training_certificate"}


@settings(max_examples=100, deadline=None)
@given(at=times, anesthesia=st.sampled_from(["epidural-iv", "general"]))
def test_deep_anaesthesia_is_allowed_exactly_with_a_qualified_anaesthetist(
    at: dt.datetime, anesthesia: str
) -> None:
    req, snap = allowed_case()
    req = replace(req, at=at, anesthesia=anesthesia, anesthetist_id=9)
    snap = replace(
        snap,
        pack=replace(snap.pack, anesthesia_rules=ANESTHESIA_RULES),
        institution=replace(snap.institution, has_anesthesiology=True),
        anesthetist=anesthetist(),
    )
    assert decide(req, snap).outcome == Outcome.ALLOW
    assert (
        "ANESTHETIST_REQUIRED"
        in decide(replace(req, anesthetist_id=None), replace(snap, anesthetist=None)).codes()
    )


@settings(max_examples=100, deadline=None)
@given(at=times)
def test_a_listed_technology_is_allowed_exactly_with_a_technology_authorization(at: dt.datetime) -> None:
    req, snap = allowed_case()
    req = replace(req, at=at)
    tech = technology(procedure_code=snap.pack.procedure.code, valid_until=None)
    snap = replace(
        snap,
        pack=replace(snap.pack, technology_rule=TECHNOLOGY_RULE),
        authorizations=(*snap.authorizations, tech),
    )
    assert decide(req, snap).outcome == Outcome.ALLOW
    without = replace(snap, authorizations=snap.authorizations[:-1])
    assert "TECHNOLOGY_AUTHORIZATION_MISSING" in decide(req, without).codes()
