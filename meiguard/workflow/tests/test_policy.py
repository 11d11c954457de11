"""The pure rules: risk table, route by risk, how votes add up, expected evidence (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meiguard.workflow.choices import EvidenceKind, RiskLevel, Stage, StepStatus
from meiguard.workflow.policy import (
    NoCommittee,
    ProcedureInfo,
    ProductInfo,
    ScopeFacts,
    assess_risk,
    expected_evidence,
    missing_evidence,
    route,
    tally,
)
from meiguard.workflow.reasons import RISK_MESSAGES, risk_message


def proc(
    code: str, grade: int | None, invasive: str = "surgical", subject: str = "cosmetic_surgery"
) -> ProcedureInfo:
    return ProcedureInfo(code, subject, "cat", grade, invasive)


def product(name: str, *, risk_class: str = "", high_risk: bool = False, kind: str = "device") -> ProductInfo:
    return ProductInfo(name, name, kind, risk_class, high_risk)


GRADE1 = proc("surg-double-eyelid", 1)
GRADE2 = proc("surg-breast-augmentation", 2)
GRADE3 = proc("surg-full-face-neck-lift", 3)
GRADE4 = proc("surg-zygoma-reduction", 4)
PEEL = proc("derm-chemical-peel", None, "non-invasive", "cosmetic_dermatology")
TOXIN = proc("derm-botulinum-toxin-injection", None, "injection", "cosmetic_dermatology")
RF = proc("derm-radiofrequency", None, "energy-device", "cosmetic_dermatology")
THREAD = proc("derm-thread-lift", None, "surgical", "cosmetic_dermatology")
UNGRADED_SURGERY = proc("surg-liposuction-5000", None, "surgical", "cosmetic_surgery")


@pytest.mark.parametrize(
    ("scope", "level", "codes"),
    [
        (ScopeFacts("qualification", (GRADE1,)), "low", ["PROCEDURE_LOW_RISK"]),
        (ScopeFacts("qualification", (PEEL,)), "low", ["PROCEDURE_LOW_RISK"]),
        (ScopeFacts("qualification", (GRADE1, PEEL)), "low", ["PROCEDURE_LOW_RISK"]),
        (ScopeFacts("qualification", (GRADE2,)), "medium", ["PROCEDURE_GRADE_2"]),
        (ScopeFacts("qualification", (TOXIN,)), "medium", ["PROCEDURE_INVASIVE_UNGRADED"]),
        (ScopeFacts("qualification", (RF,)), "medium", ["PROCEDURE_INVASIVE_UNGRADED"]),
        (ScopeFacts("qualification", (THREAD,)), "medium", ["PROCEDURE_INVASIVE_UNGRADED"]),
        (ScopeFacts("qualification", (GRADE3,)), "high", ["PROCEDURE_GRADE_3_PLUS"]),
        (ScopeFacts("qualification", (GRADE4,)), "high", ["PROCEDURE_GRADE_3_PLUS"]),
        (ScopeFacts("qualification", (UNGRADED_SURGERY,)), "high", ["PROCEDURE_UNGRADED_SURGERY"]),
        (
            ScopeFacts("qualification", (GRADE1, GRADE2, GRADE3)),
            "high",
            ["PROCEDURE_GRADE_3_PLUS", "PROCEDURE_GRADE_2"],
        ),
        (ScopeFacts("technology", target="微创下睑袋矫正", technology_kind="new"), "high", ["TECHNOLOGY"]),
        (ScopeFacts("technology", target="X", technology_kind="transfer"), "high", ["TECHNOLOGY"]),
        (
            ScopeFacts("product", products=(product("衡力", high_risk=True, kind="drug"),), target="衡力"),
            "high",
            ["PRODUCT_HIGH_RISK"],
        ),
        (
            ScopeFacts("product", products=(product("某填充剂", risk_class="III"),), target="某填充剂"),
            "high",
            ["PRODUCT_HIGH_RISK"],
        ),
        (
            ScopeFacts("product", products=(product("薇旖美", risk_class="II"),), target="薇旖美"),
            "medium",
            ["PRODUCT_AUTHORIZATION"],
        ),
        (
            ScopeFacts("device", products=(product("某光电", risk_class="II"),), target="某光电"),
            "medium",
            ["DEVICE_AUTHORIZATION"],
        ),
        (
            ScopeFacts("device", products=(product("热玛吉-FLX", risk_class="III"),), target="热玛吉-FLX"),
            "high",
            ["PRODUCT_HIGH_RISK"],
        ),
        (ScopeFacts("product", target="水货品牌"), "high", ["PRODUCT_NOT_IN_REGISTRY"]),
    ],
)
@pytest.mark.django_db  # a message names its procedures; a code the catalog lacks is looked up once
def test_risk_table(scope, level, codes):
    risk = assess_risk(scope)
    assert risk.level == level
    assert [r.code for r in risk.reasons] == codes
    for r in risk.reasons:
        assert r.source, r.code  # every reason names where it comes from
        assert risk_message(r.code, dict(r.facts)) != r.code  # and has a message


def test_grade_reason_names_the_procedures_and_the_highest_grade():
    risk = assess_risk(ScopeFacts("qualification", (GRADE3, GRADE4, GRADE1)))
    reason = risk.reasons[0]
    facts = dict(reason.facts)
    assert facts["grade"] == "4" and facts["count"] == "2"
    assert (
        "surg-full-face-neck-lift" in facts["procedures"] and "surg-zygoma-reduction" in facts["procedures"]
    )
    assert "《医疗美容项目分级管理目录》分级标准(卫办医政发〔2009〕220号)" in reason.source
    message = risk_message(reason.code, facts)  # the message names them; the codes stay in the facts
    assert "全颜面及颌颈部除皱术" in message and "surg-full-face-neck-lift" not in message


def test_every_risk_code_has_a_message():
    codes = {"TECHNOLOGY", "PROCEDURE_GRADE_3_PLUS", "PROCEDURE_UNGRADED_SURGERY", "PROCEDURE_GRADE_2"}
    codes |= {
        "PROCEDURE_INVASIVE_UNGRADED",
        "PROCEDURE_LOW_RISK",
        "PRODUCT_HIGH_RISK",
        "PRODUCT_NOT_IN_REGISTRY",
    }
    codes |= {"PRODUCT_AUTHORIZATION", "DEVICE_AUTHORIZATION", "UNKNOWN_SCOPE"}
    assert codes == set(RISK_MESSAGES)


PROCEDURES = st.builds(
    ProcedureInfo,
    code=st.text("abcdef-", min_size=1, max_size=8),
    subject=st.sampled_from(["cosmetic_surgery", "cosmetic_dermatology", "cosmetic_dentistry"]),
    category=st.just("c"),
    grade=st.one_of(st.none(), st.integers(1, 4)),
    invasive=st.sampled_from(["surgical", "injection", "energy-device", "non-invasive"]),
)


@given(st.lists(PROCEDURES, min_size=1, max_size=12))
def test_high_exactly_when_grade_3_or_unreviewed_surgery(procs):
    risk = assess_risk(ScopeFacts("qualification", tuple(procs)))
    high = any(p.grade is not None and p.grade >= 3 for p in procs) or any(
        p.grade is None and p.invasive == "surgical" and p.subject == "cosmetic_surgery" for p in procs
    )
    assert (risk.level == RiskLevel.HIGH) == high
    # the level is the highest of its reasons, and adding scope never lowers it
    order = {"low": 0, "medium": 1, "high": 2}
    assert order[risk.level] == max(order[r.level] for r in risk.reasons)
    more = assess_risk(ScopeFacts("qualification", (*procs, GRADE2)))
    assert order[more.level] >= order[risk.level]


@pytest.mark.parametrize(
    ("level", "stages"),
    [
        ("low", ["medical_director"]),
        ("medium", ["medical_director", "compliance_officer"]),
        ("high", ["medical_director", "compliance_officer", "expert_committee"]),
    ],
)
def test_route_by_risk(level, stages):
    steps = route(level, committee_quorum=3)
    assert [s.stage for s in steps] == stages
    assert [s.required for s in steps] == [1, 1, 3][: len(stages)]


def test_high_risk_needs_a_committee():
    with pytest.raises(NoCommittee):
        route("high", committee_quorum=None)
    assert len(route("medium", committee_quorum=None)) == 2  # lower levels never need one


@pytest.mark.parametrize(
    ("stage", "required", "pool", "votes", "outcome"),
    [
        (Stage.MEDICAL_DIRECTOR, 1, 2, (1, 0, 0), StepStatus.APPROVED),
        (Stage.MEDICAL_DIRECTOR, 1, 2, (0, 1, 0), StepStatus.REJECTED),
        (Stage.COMPLIANCE_OFFICER, 1, 1, (0, 0, 1), StepStatus.RETURNED),
        (Stage.EXPERT_COMMITTEE, 2, 4, (1, 0, 0), None),
        (Stage.EXPERT_COMMITTEE, 2, 4, (2, 0, 0), StepStatus.APPROVED),
        (Stage.EXPERT_COMMITTEE, 2, 4, (1, 2, 0), None),  # two can still approve
        (Stage.EXPERT_COMMITTEE, 3, 4, (1, 2, 0), StepStatus.REJECTED),  # at most 2 approvals left
        (Stage.EXPERT_COMMITTEE, 2, 3, (0, 2, 0), StepStatus.REJECTED),
        (Stage.EXPERT_COMMITTEE, 2, 4, (1, 0, 1), StepStatus.RETURNED),
    ],
)
def test_tally(stage, required, pool, votes, outcome):
    approvals, rejects, returns = votes
    assert (
        tally(
            stage=stage, required=required, pool=pool, approvals=approvals, rejects=rejects, returns=returns
        )
        == outcome
    )


def test_expected_and_missing_evidence():
    assert expected_evidence("qualification", "low") == (EvidenceKind.CERTIFICATE, EvidenceKind.CASE_LOG)
    assert EvidenceKind.TRAINING in expected_evidence("qualification", "medium")
    assert expected_evidence("product", "high") == (
        EvidenceKind.CERTIFICATE,
        EvidenceKind.TRAINING,
        EvidenceKind.CASE_LOG,
    )
    assert expected_evidence("technology", "high") == (
        EvidenceKind.TRAINING,
        EvidenceKind.CASE_LOG,
        EvidenceKind.OTHER,
    )
    assert missing_evidence("device", "medium", ["certificate", "other"]) == (EvidenceKind.TRAINING,)
    assert missing_evidence("qualification", "low", ["certificate", "case_log"]) == ()
