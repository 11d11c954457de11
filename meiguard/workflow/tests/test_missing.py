"""The “what's missing” preview: the engine's own deny reasons for the requested scope, as if granted."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions as authz_actions
from meiguard.authz import snapshot
from meiguard.authz.tests.conftest import FAR, PAST, SYSTEM, make_doctor
from meiguard.core.errors import ActionError
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution
from meiguard.workflow import actions, preview

from .conftest import BEYOND, HIGH, LOW, MEDIUM, START


def _gaps(wf, app, who: str = "li") -> dict[str, preview.Gap]:
    return {g.code: g for g in preview.build(wf.actor(who), app).gaps}


def test_a_clean_low_risk_request_has_no_gaps_only_missing_evidence(wf):
    app = wf.draft("li")
    p = preview.build(wf.actor("li"), app)
    assert p.gaps == () and p.error == ""
    assert p.procedures_checked == 1 and p.rule_pack.startswith("全国基线 v1")
    assert p.missing_evidence == ("certificate", "case_log")
    assert [(s.stage, s.required, s.pool) for s in p.route] == [("medical_director", 1, 2)]
    assert p.can_submit


def test_grade_4_at_a_grade_3_cosmetic_hospital(wf):
    gaps = _gaps(wf, wf.draft("li", procedure_code=BEYOND))
    assert {"PROCEDURE_GRADE_EXCEEDS_INSTITUTION", "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"} <= set(gaps)
    assert "AUTHORIZATION_MISSING" not in gaps  # the requested grant itself is assumed
    grade = gaps["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]
    assert grade.blocking and grade.from_engine
    assert grade.rule is not None and grade.rule.rule_id.startswith("IN-03")
    assert "4 级" in grade.message and grade.procedures == (BEYOND,)
    gap = gaps["PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"]
    assert gap.rule is not None and gap.rule.rule_id == "PR-03.non-chief"
    assert "《医疗美容服务管理办法》第十二条" in gap.source


def test_the_route_problem_shows_before_submitting(wf):
    p = preview.build(wf.actor("li"), wf.draft("li", procedure_code=HIGH))
    assert [r.code for r in p.routing_problems] == ["NO_COMMITTEE"]
    assert not p.can_submit
    assert p.risk.level == "high" and "case_log" in p.missing_evidence and "training" in p.missing_evidence


def test_a_named_supervisor_covers_a_missing_chief_filing(wf):
    surgeon = make_doctor(wf.jia, "外科主诊", subject="cosmetic_surgery", scope="外科")
    alone = _gaps(wf, wf.draft("li", procedure_code="surg-double-eyelid"))
    assert "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT" in alone
    supervised = _gaps(wf, wf.draft("li", procedure_code="surg-double-eyelid", supervisor_id=surgeon.pk))
    assert "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT" not in supervised
    assert not [g for g in supervised.values() if g.blocking]


def test_a_subject_scope_is_checked_procedure_by_procedure(wf):
    app = wf.draft("wang", procedure_code="", subject="cosmetic_surgery", max_grade=2)
    p = preview.build(wf.actor("wang"), app)
    assert p.procedures_checked > 20  # every graded and ungraded surgery item up to grade 2
    gap = next(g for g in p.gaps if g.code == "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT")
    assert len(gap.procedures) == p.procedures_checked  # one reason, listing the procedures it concerns
    assert "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" not in {g.code for g in p.gaps}  # ≤ 2 at a grade-3 site


def test_product_request_reports_missing_training_not_the_authorization(wf):
    app = wf.draft("li", kind="product", procedure_code="", product_brand="衡力")
    gaps = _gaps(wf, app)
    assert "TRAINING_CERTIFICATE_MISSING" in gaps
    assert "衡力" in gaps["TRAINING_CERTIFICATE_MISSING"].message
    assert "PRODUCT_AUTHORIZATION_MISSING" not in gaps
    assert app.risk_level == "high"


def test_device_request_with_training_is_clean(wf):
    app = wf.draft("li", kind="device", procedure_code="", device_model="热玛吉-FLX")
    gaps = _gaps(wf, app)
    assert not [g for g in gaps.values() if g.blocking], gaps


def test_a_device_not_held_by_the_institution_is_a_warning(wf):
    app = wf.draft("li", kind="device", procedure_code="", device_model="薇旖美")
    gap = _gaps(wf, app)["DEVICE_NOT_AT_INSTITUTION"]
    assert gap.severity == "warn" and not gap.from_engine


def test_unknown_and_unauthorised_products(wf):
    unknown = wf.draft("li", kind="product", procedure_code="", product_brand="水货牌")
    assert _gaps(wf, unknown)["PRODUCT_NOT_IN_REGISTRY"].blocking
    supplier = wf.toxin.supplier
    reg.create_product(
        SYSTEM,
        supplier_id=supplier.pk,
        generic_name="医用冷敷贴",
        brand_name="无授权牌",
        kind="device",
        registration_no="湘械注准20232140002",
        registrant="某公司",
        registration_valid_until=FAR,
        risk_class="II",
        category="other",
        dose_unit="piece",
    )
    app = wf.draft("li", kind="product", procedure_code="", product_brand="无授权牌")
    assert app.risk_level == "medium"
    assert _gaps(wf, app)["SUPPLIER_NOT_AUTHORIZED"].rule.rule_id.startswith("DD-07")


def test_institution_problems_come_from_the_engine(wf):
    app = wf.draft("li", procedure_code=MEDIUM)
    Institution.objects.filter(pk=wf.jia.pk).update(licence_valid_until=dt.date(2026, 1, 1))
    snapshot.clear()
    assert "INSTITUTION_LICENCE_EXPIRED" in _gaps(wf, app)


def test_an_overlapping_authorization_is_flagged(wf):
    app = wf.draft("li")
    other = authz_actions.create_authorization(
        SYSTEM,
        institution_id=wf.jia.pk,
        data={
            "kind": "qualification",
            "practitioner_id": wf.li.pk,
            "procedure_code": LOW,
            "valid_from": PAST,
        },
        activate=True,
    )
    gap = _gaps(wf, app)["SCOPE_OVERLAP"]
    assert gap.blocking and f"#{other.pk}" in gap.message


def test_a_technology_for_the_institution_itself(wf):
    app = wf.draft(
        "wang",
        kind="technology",
        practitioner_id=None,
        procedure_code="",
        technology_name="微创下睑袋矫正技术",
        technology_kind="new",
    )
    p = preview.build(wf.actor("wang"), app)
    assert p.error == "" and p.gaps == ()
    assert p.risk.level == "high" and p.risk.reasons[0].code == "TECHNOLOGY"
    assert p.missing_evidence == ("training", "case_log", "other")


def test_submission_records_the_gaps_but_is_not_refused(wf):
    wf.with_committee(quorum=1)
    app = actions.submit(wf.actor("li"), wf.draft("li", procedure_code=HIGH).pk)
    assert app.status == "in_review"
    assert {"PRACTITIONER_NOT_CHIEF_FOR_SUBJECT"} <= set(app.gaps_at_submission)


def test_a_scope_the_institution_cannot_offer_is_shown_and_refused_at_submission(wf):
    wf.with_committee(quorum=1)
    draft = wf.draft("li", procedure_code=BEYOND)
    p = preview.build(wf.actor("li"), draft)
    assert [r.code for r in p.routing_problems] == ["AUTHORIZATION_BEYOND_INSTITUTION"]
    assert "4 级" in p.routing_problems[0].message and not p.can_submit
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("li"), draft.pk)
    assert exc.value.code == "AUTHORIZATION_BEYOND_INSTITUTION" and exc.value.status == 409
    assert [d["code"] for d in exc.value.details] == ["PROCEDURE_GRADE_EXCEEDS_INSTITUTION"]
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.round == 0
    assert not AuditEntry.objects.filter(action="workflow.application.submitted").exists()


def test_a_subject_the_institution_has_not_registered_is_refused_at_submission(wf):
    app = wf.draft("wang", procedure_code="", subject="cosmetic_dentistry")
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("wang"), app.pk)
    assert exc.value.field == "subject"
    assert [d["code"] for d in exc.value.details] == ["SUBJECT_NOT_REGISTERED"]


def test_the_preview_sees_only_what_the_actor_may_see(wf):
    app = wf.draft("li", valid_from=START)
    p = preview.build(wf.actor("qian"), app)  # the association auditor: read access through oversight
    assert p.error == "" and p.procedures_checked == 1
