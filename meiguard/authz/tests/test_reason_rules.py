"""Every reason the engine emits cites the rule that produced it (docs/decision-reasons.md).

Walks every reason of every case in the scenario table and checks the rule id it cites against the mapping
of the issue "reasons cite the rule that produced them"; then checks that ``pack_facts`` built from the
shipped packs hands the engine those very rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest

from meiguard.authz.facts import NO_RULE, DecisionRequest, Snapshot
from meiguard.authz.policy import Reason, decide

from .builders import allowed_case
from .test_policy_scenarios import SCENARIOS

Expect = Callable[[Reason, DecisionRequest, Snapshot], str]


def fixed(rule_id: str) -> Expect:
    return lambda reason, req, snap: rule_id


def practitioner_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    """Licence, status, registration and profession: PR-07.nurse for nurses, PR-01 for doctors."""
    return "PR-07.nurse" if snap.practitioner.profession == "nurse" else "PR-01.physician-licence"


def chief_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    return f"PR-02.{snap.pack.procedure.subject}"


def scope_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    return f"PR-06.{snap.pack.procedure.subject}"


def supervisor_licence_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    # A supervising 主诊 is licensed like any 主诊 (PR-02 criterion 1); PR-03 when the pack has no PR-02.
    return chief_rule(reason, req, snap) if snap.pack.chief is not None else "PR-03.non-chief"


def _device_models(snap: Snapshot) -> set[str]:
    return {d.model for d in snap.devices}


def authorization_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    """AUTHORIZATION_*: the procedure's (graded: SP-02, other items: the institution switch), or the
    product's / device's / anaesthesia privilege's rule when the reason is about one of those."""
    named = next((a for a in snap.authorizations if str(a.id) == reason.fact("authorization")), None)
    if reason.fact("anesthetist") is not None or (named is not None and named.procedure_category == "麻醉"):
        return "PG-01.grade-*"  # the anaesthetist's privilege
    if reason.fact("brand") is not None:
        return "INST.product-authorization"
    if reason.fact("device") is not None:
        return "INST.device-operator-authorization"
    return (
        "SP-02.surgical-grading" if snap.pack.procedure.grade is not None else "INST.authorization-ungraded"
    )


def training_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    if reason.fact("covers") in _device_models(snap):
        return "INST.device-operator-authorization"
    return "INST.product-authorization"


def registration_rule(reason: Reason, req: DecisionRequest, snap: Snapshot) -> str:
    device_products = {d.product.name for d in snap.devices}
    return "DD-07.device-use" if reason.fact("product") in device_products else "DD-07.registered-products"


EXPECTED: dict[str, Expect] = {
    # institution
    "INSTITUTION_NOT_ACTIVE": fixed("IN-01.licence"),
    "INSTITUTION_LICENCE_INVALID": fixed("IN-01.licence"),
    "INSTITUTION_LICENCE_EXPIRED": fixed("IN-01.licence"),
    "INSTITUTION_LICENCE_EXPIRING": fixed("IN-01.licence"),
    "INSTITUTION_VERIFICATION_OVERDUE": fixed("IN-04.verification-cycle-years"),
    "INSTITUTION_VERIFICATION_DUE_SOON": fixed("IN-04.verification-notice-months"),
    "SUBJECT_NOT_REGISTERED": fixed("IN-01.registered-subjects"),
    "PROCEDURE_REQUIRES_MANUAL_REVIEW": fixed("PG-04.unlisted-surgery"),
    "PROCEDURE_GRADE_EXCEEDS_INSTITUTION": fixed("IN-03.*"),
    # practitioner
    "PRACTITIONER_NOT_ACTIVE": practitioner_rule,
    "PROFESSION_NOT_PERMITTED": practitioner_rule,
    "PRACTITIONER_LICENCE_MISSING": practitioner_rule,
    "PRACTITIONER_LICENCE_EXPIRED": practitioner_rule,
    "PRACTITIONER_LICENCE_EXPIRING": practitioner_rule,
    "QUALIFICATION_UNVERIFIED": practitioner_rule,
    "PRACTITIONER_NOT_REGISTERED_HERE": practitioner_rule,
    # 主诊 and supervision
    "PRACTITIONER_SCOPE_NOT_ACCEPTED": scope_rule,
    "CHIEF_FILING_YEARS_SHORT": chief_rule,
    "PRACTITIONER_TITLE_TOO_LOW": chief_rule,
    "CHIEF_NOT_REGISTERED_IN_PROVINCE": chief_rule,
    "PERIODIC_ASSESSMENT_NOT_CURRENT": chief_rule,
    "CHIEF_TRAINING_SHORT": chief_rule,
    "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT": fixed("PR-03.non-chief"),
    "SUPERVISOR_NOT_CHIEF_FOR_SUBJECT": fixed("PR-03.non-chief"),
    "SUPERVISOR_NOT_ACTIVE": fixed("PR-03.non-chief"),
    "SUPERVISOR_NOT_REGISTERED_HERE": fixed("PR-03.non-chief"),
    "SUPERVISOR_LICENCE_MISSING": supervisor_licence_rule,
    "SUPERVISOR_LICENCE_EXPIRED": supervisor_licence_rule,
    # nurses
    "NURSE_SUPERVISION_REQUIRED": fixed("PR-07.nurse"),
    "NURSE_PROCEDURE_NOT_PERMITTED": fixed("INST.nurse-non-invasive-only"),
    "NURSE_TRAINING_HOURS_SHORT": fixed("INST.nurse-training-hours"),
    "NURSE_EXPERIENCE_SHORT": fixed("PR-07.nurse"),
    "NURSE_EXPERIENCE_UNKNOWN": fixed("PR-07.nurse"),
    "NURSE_REGISTRATION_RENEWAL_DUE": fixed("PR-07.nurse-renewal-notice-days"),
    # authorizations
    **{
        code: authorization_rule
        for code in (
            "AUTHORIZATION_MISSING",
            "AUTHORIZATION_NOT_YET_VALID",
            "AUTHORIZATION_EXPIRED",
            "AUTHORIZATION_EXPIRING",
            "AUTHORIZATION_SUSPENDED",
            "AUTHORIZATION_REVOKED",
            "AUTHORIZATION_NOT_ACTIVE",
            "AUTHORIZATION_GRADE_LIMIT",
            "AUTHORIZATION_REQUIRES_SUPERVISOR",
        )
    },
    **{
        f"TECHNOLOGY_AUTHORIZATION_{state}": fixed("SP-02.new-technology")
        for state in ("MISSING", "NOT_YET_VALID", "EXPIRED", "EXPIRING", "SUSPENDED", "REVOKED", "NOT_ACTIVE")
    },
    # anaesthesia: the PG-01 rule of the grade that makes an anaesthetist necessary
    **{
        code: fixed("PG-01.grade-*")
        for code in (
            "ANESTHESIOLOGY_DEPARTMENT_MISSING",
            "ANESTHETIST_REQUIRED",
            "ANESTHETIST_NOT_DOCTOR",
            "ANESTHETIST_NOT_ACTIVE",
            "ANESTHETIST_NOT_REGISTERED_HERE",
            "ANESTHETIST_LICENCE_MISSING",
            "ANESTHETIST_LICENCE_EXPIRED",
            "ANESTHETIST_SCOPE_NOT_ANESTHESIOLOGY",
            "ANESTHESIA_PRIVILEGE_MISSING",
        )
    },
    # products and lots
    "LOT_RECALLED": fixed("DD-09.recalled-lots"),
    "SUPPLIER_NOT_AUTHORIZED": fixed("DD-07.qualified-supplier"),
    "LOT_NOT_FOUND": fixed("DD-07.registered-products"),
    "LOT_NOT_AT_INSTITUTION": fixed("DD-07.registered-products"),
    "LOT_UNAVAILABLE": fixed("DD-07.registered-products"),
    "LOT_EXPIRED": fixed("DD-07.registered-products"),
    "PRODUCT_UNREGISTERED": fixed("DD-07.registered-products"),
    "PRODUCT_REGISTRATION_EXPIRED": registration_rule,
    "DOSE_UNIT_MISMATCH": fixed("DD-07.registered-products"),
    "PRODUCT_AUTHORIZATION_MISSING": fixed("INST.product-authorization"),
    "TRAINING_CERTIFICATE_MISSING": training_rule,
    "TRAINING_CERTIFICATE_EXPIRED": training_rule,
    # institution limits
    "DOSE_OVER_LIMIT": fixed("INST.botulinum-units-per-session"),
    "DOSE_REQUIRED": fixed("INST.botulinum-units-per-session"),
    "DURATION_OVER_LIMIT": fixed("INST.filler-minutes-per-site"),
    # devices
    "DEVICE_REQUIRED": fixed("DD-07.device-use"),
    "DEVICE_NOT_FOUND": fixed("DD-07.device-use"),
    "DEVICE_NOT_AT_INSTITUTION": fixed("DD-07.device-use"),
    "DEVICE_NOT_ACTIVE": fixed("DD-07.device-use"),
    "DEVICE_FAILED_CHECK": fixed("DD-07.device-use"),
    "DEVICE_INSPECTION_OVERDUE": fixed("DD-07.device-use"),
    "DEVICE_CALIBRATION_OVERDUE": fixed("DD-07.device-use"),
    "DEVICE_AUTHORIZATION_MISSING": fixed("INST.device-operator-authorization"),
}


def _matches(rule_id: str, expected: str) -> bool:
    if expected.endswith("*"):
        return re.fullmatch(re.escape(expected[:-1]) + r"[\w.-]+", rule_id) is not None
    return rule_id == expected


def _emitted() -> list[tuple[str, Reason, DecisionRequest, Snapshot]]:
    out = []
    for name, mutate, _outcome, _codes in SCENARIOS:
        req, snap = mutate(*allowed_case())
        out.extend((name, reason, req, snap) for reason in decide(req, snap).reasons)
    return out


EMITTED = _emitted()


def test_the_walk_covers_every_documented_reason_code():
    from meiguard.authz.reasons import REASONS

    emitted = {reason.code for _, reason, _, _ in EMITTED}
    assert emitted == set(REASONS)
    assert set(EXPECTED) == set(REASONS), "a reason code without an expected rule"


@pytest.mark.parametrize(
    ("name", "reason", "req", "snap"), EMITTED, ids=[f"{n} · {r.code}" for n, r, _, _ in EMITTED]
)
def test_every_emitted_reason_cites_the_rule_that_produced_it(name, reason, req, snap):
    expected = EXPECTED[reason.code](reason, req, snap)
    assert reason.rule != NO_RULE
    assert _matches(reason.rule.rule_id, expected), (reason.code, reason.rule.rule_id, expected)
    # The rule is cited by document, not by an internal id, and its layer matches the rule's home.
    assert reason.rule.citations, reason.rule
    assert reason.rule.source.startswith("《"), reason.rule.source
    layer = "institution" if reason.rule.rule_id.startswith("INST.") else ("national", "provincial")
    assert reason.rule.layer in ((layer,) if isinstance(layer, str) else layer), reason.rule


def test_ungraded_items_need_no_authorization_without_the_institution_switch():
    from dataclasses import replace

    req, snap = allowed_case()
    assert snap.pack.procedure.grade is None
    no_switch = replace(
        snap,
        pack=replace(snap.pack, ungraded_authorization_rule=None),
        authorizations=snap.authorizations[1:],
    )
    assert (
        "AUTHORIZATION_MISSING" in decide(req, replace(snap, authorizations=snap.authorizations[1:])).codes()
    )
    assert "AUTHORIZATION_MISSING" not in decide(req, no_switch).codes()


def test_product_and_device_authorizations_are_checked_only_when_the_institution_sets_them():
    from dataclasses import replace

    req, snap = allowed_case()
    bare = replace(
        snap,
        authorizations=snap.authorizations[:1],
        practitioner=replace(snap.practitioner, qualifications=snap.practitioner.qualifications[:2]),
    )
    codes = set(decide(req, bare).codes())
    assert {
        "PRODUCT_AUTHORIZATION_MISSING",
        "DEVICE_AUTHORIZATION_MISSING",
        "TRAINING_CERTIFICATE_MISSING",
    } <= codes
    off = replace(
        bare, pack=replace(bare.pack, product_authorization_rule=None, device_authorization_rule=None)
    )
    assert decide(req, off).codes() == ()


# ---- the shipped packs: pack_facts hands the engine these rules -------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("province", ["湖南", "北京"])
def test_pack_facts_from_the_shipped_packs_cite_the_mapped_rules(province):
    from types import SimpleNamespace

    from meiguard.authz.snapshot import pack_facts
    from meiguard.rules.services import resolve
    from meiguard.rules.testing import load_builtin_packs

    load_builtin_packs()
    pack = resolve(province, dt.date(2026, 3, 3))
    institution = SimpleNamespace(
        id=1,
        institution_type="aesthetic_outpatient_dept",
        hospital_level=None,
        subjects=["cosmetic_surgery", "cosmetic_dermatology"],
        has_anesthesiology=True,
        province=province,
    )
    facts = pack_facts(pack, institution, "derm-botulinum-toxin-injection")
    assert {
        "licence_rule": facts.licence_rule.rule_id,
        "subjects_rule": facts.subjects_rule.rule_id,
        "verification_rule": facts.verification_rule.rule_id,
        "manual_review_rule": facts.manual_review_rule.rule_id,
        "physician_rule": facts.physician_rule.rule_id,
        "nurse_registration_rule": facts.nurse_registration_rule.rule_id,
        "supplier_rule": facts.supplier_rule.rule_id,
        "recall_rule": facts.recall_rule.rule_id,
        "authorization_rule": facts.authorization_rule.rule_id,
        "product_rule": facts.product_rule.rule_id,
        "device_rule": facts.device_rule.rule_id,
        "supervision_rule": facts.supervision_rule.rule_id,
        "nurse_rule": facts.nurse_rule.rule_id,
        "nurse_training_rule": facts.nurse_training_rule.rule_id,
        "chief": facts.chief.rule.rule_id,
        "scope": facts.chief.scope_rule.rule_id,
        "ungraded_authorization_rule": facts.ungraded_authorization_rule.rule_id,
        "product_authorization_rule": facts.product_authorization_rule.rule_id,
        "device_authorization_rule": facts.device_authorization_rule.rule_id,
        "dose": facts.dose_limits[0].rule.rule_id,
    } == {
        "licence_rule": "IN-01.licence",
        "subjects_rule": "IN-01.registered-subjects",
        "verification_rule": "IN-04.verification-cycle-years",
        "manual_review_rule": "PG-04.unlisted-surgery",
        "physician_rule": "PR-01.physician-licence",
        "nurse_registration_rule": "PR-07.nurse",
        "supplier_rule": "DD-07.qualified-supplier",
        "recall_rule": "DD-09.recalled-lots",
        "authorization_rule": "SP-02.surgical-grading",
        "product_rule": "DD-07.registered-products",
        "device_rule": "DD-07.device-use",
        "supervision_rule": "PR-03.non-chief",
        "nurse_rule": "INST.nurse-non-invasive-only",
        "nurse_training_rule": "INST.nurse-training-hours",
        "chief": "PR-02.cosmetic_dermatology",
        "scope": "PR-06.cosmetic_dermatology",
        "ungraded_authorization_rule": "INST.authorization-ungraded",
        "product_authorization_rule": "INST.product-authorization",
        "device_authorization_rule": "INST.device-operator-authorization",
        "dose": "INST.botulinum-units-per-session",
    }
    assert facts.dose_limits[0].rule.layer == "institution"
    assert facts.dose_limits[0].rule.pack == "inst-template"
    assert facts.licence_rule.citations[0].title == "医疗美容服务管理办法"
