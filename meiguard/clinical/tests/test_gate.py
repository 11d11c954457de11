"""The gate: a record opens only when every condition holds at that moment, and each missing one is a reason."""

from __future__ import annotations

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz.models import DecisionLog
from meiguard.clinical import actions
from meiguard.clinical.models import OperationRecord
from meiguard.core.errors import ActionError
from meiguard.registry import actions as reg

from .conftest import BREAST, SYSTEM, TOXIN


def _refused(clin, case, **kw) -> list[str]:
    with pytest.raises(actions.GateRefused) as exc:
        actions.open_record(clin.actor("li"), case.pk, **kw)
    assert exc.value.status == 409 and exc.value.code == "GATE_REFUSED"
    assert not OperationRecord.objects.filter(case=case).exists()
    return [d["code"] for d in exc.value.details]


def test_a_ready_non_surgical_case_opens_and_keeps_the_engine_decision(clin):
    case = clin.ready(TOXIN)
    record = actions.open_record(clin.actor("li"), case.pk)
    case.refresh_from_db()
    assert case.status == "in_operation"
    assert record.decision.outcome == "allow"
    assert record.decision.procedure_code == TOXIN and record.decision.practitioner_id == clin.clinic.li.pk
    assert AuditEntry.objects.filter(
        action="clinical.operationrecord.opened", object_id=str(record.pk)
    ).exists()


def test_a_fresh_case_lists_every_missing_condition(clin):
    case = clin.case(BREAST)
    codes = _refused(clin, case)
    assert codes == [
        "CONSULTATION_NOT_SIGNED",
        "CONSENT_NOT_SIGNED",
        "ASSESSMENT_MISSING",
        "REVIEW_MISSING",
        "CHECKLIST_NODE1_INCOMPLETE",
    ]
    # The refusal is audited, and its engine decision stays in the log.
    entry = AuditEntry.objects.get(action="clinical.operationrecord.refused")
    assert entry.changes["reasons"] == codes
    assert DecisionLog.objects.filter(pk=entry.changes["decision"]).exists()


def test_unsigned_consent_blocks(clin):
    case = clin.case(TOXIN)
    clin.consult(case)
    clin.assess(case)
    clin.review(case)
    assert _refused(clin, case) == ["CONSENT_NOT_SIGNED"]


def test_refused_and_withdrawn_consent_block(clin):
    case = clin.case(TOXIN)
    clin.consult(case)
    clin.assess(case)
    clin.review(case)
    clin.consent(case, "refused")
    assert _refused(clin, case) == ["CONSENT_REFUSED"]
    clin.consent(case)
    actions.withdraw_consent(clin.actor("zhang"), case.pk, reason="求美者改变主意")
    assert _refused(clin, case) == [
        "CONSENT_REFUSED"
    ]  # the refusal before it is the latest standing decision


def test_a_new_template_version_makes_the_signed_consent_outdated(clin):
    case = clin.ready(TOXIN)
    actions.create_consent_template(
        clin.actor("zhao"),
        institution_id=case.institution_id,
        procedure_code=TOXIN,
        title="新版",
        body="新增风险说明",
        risks="新风险",
        alternatives="无",
    )
    assert _refused(clin, case) == ["CONSENT_OUTDATED"]


def test_a_failed_assessment_blocks(clin):
    case = clin.case(TOXIN)
    clin.consult(case)
    clin.consent(case)
    a = clin.assess(case, {**clin_answers(), "pregnancy": "yes"})
    a.refresh_from_db()
    assert a.passed is False and a.risk_level == "high"
    with pytest.raises(ActionError) as exc:
        actions.open_review(clin.actor("zhao"), case.pk)
    assert exc.value.code == "ASSESSMENT_FAILED"
    assert _refused(clin, case) == ["ASSESSMENT_FAILED", "REVIEW_MISSING"]


def clin_answers():
    from .conftest import GOOD_ANSWERS

    return dict(GOOD_ANSWERS)


def test_a_missing_anaesthetist_signature_blocks(clin):
    case = clin.case(BREAST)
    clin.consult(case)
    clin.consent(case)
    actions.save_assessment(clin.actor("zhang"), case.pk, answers=clin_answers(), asa_class=1)
    actions.sign_assessment(clin.actor("zhou"), case.pk, role="chief")
    clin.review(case)
    clin.node(case, "before_anesthesia")
    assert _refused(clin, case) == ["ASSESSMENT_ANESTHETIST_SIGNATURE_MISSING"]
    actions.sign_assessment(clin.actor("ma"), case.pk, role="anesthetist")
    record = actions.open_record(clin.actor("zhou"), case.pk)
    assert record.operator_id == clin.surgeon.pk


def test_surgery_without_checklist_node_1_is_blocked(clin):
    case = clin.case(BREAST)
    clin.consult(case)
    clin.consent(case)
    clin.assess(case)
    clin.review(case)
    assert _refused(clin, case) == ["CHECKLIST_NODE1_INCOMPLETE"]
    clin.node(case, "before_anesthesia")
    assert actions.open_record(clin.actor("zhou"), case.pk).pk


def test_an_engine_deny_blocks_with_the_engine_reasons(clin, django_capture_on_commit_callbacks):
    case = clin.ready(TOXIN)
    with django_capture_on_commit_callbacks(execute=True):
        from meiguard.authz import actions as authz

        authz.change_status(SYSTEM, clin.clinic.auths["procedure"].pk, action="suspend", reason="季度审查")
    with pytest.raises(actions.GateRefused) as exc:
        actions.open_record(clin.actor("li"), case.pk)
    codes = [d["code"] for d in exc.value.details]
    assert codes[0] == "ENGINE_DENIED" and "AUTHORIZATION_SUSPENDED" in codes
    engine = next(d for d in exc.value.details if d["code"] == "AUTHORIZATION_SUSPENDED")
    assert engine["message"] and engine["source"]
    assert DecisionLog.objects.get(pk=exc.value.decision_id).outcome == "deny"


def test_a_review_not_approved_blocks(clin):
    case = clin.case(TOXIN)
    clin.consult(case)
    clin.consent(case)
    clin.assess(case)
    actions.open_review(clin.actor("zhao"), case.pk)
    actions.confirm_review(clin.actor("li"), case.pk, role="chief")
    assert _refused(clin, case) == ["REVIEW_NOT_APPROVED"]


def test_withdrawn_privacy_consent_blocks(clin):
    case = clin.ready(TOXIN)
    consent = clin.client.privacy_consents.get()
    actions.withdraw_privacy_consent(clin.actor("zhao"), consent.pk, reason="求美者撤回同意")
    assert _refused(clin, case) == ["PRIVACY_CONSENT_MISSING"]


def test_a_second_open_is_refused(clin):
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    with pytest.raises(ActionError) as exc:
        actions.open_record(clin.actor("li"), case.pk)
    assert [d["code"] for d in exc.value.details] == ["RECORD_ALREADY_OPEN"]


def test_reasons_carry_readable_sources_in_both_languages(clin):
    from django.utils import translation

    case = clin.case(BREAST)
    with translation.override("en"), pytest.raises(actions.GateRefused) as exc:
        actions.open_record(clin.actor("li"), case.pk)
    node = next(d for d in exc.value.details if d["code"] == "CHECKLIST_NODE1_INCOMPLETE")
    assert "Surgical Safety Checklist" in node["source"]
    assert "anaesthesia" in node["message"].lower() or "node" in node["message"].lower()
    with pytest.raises(actions.GateRefused) as exc:
        actions.open_record(clin.actor("li"), case.pk)
    consent = next(d for d in exc.value.details if d["code"] == "CONSENT_NOT_SIGNED")
    assert "《医疗美容服务管理办法》第二十条" in consent["source"]


def test_opening_the_gate_costs_a_fixed_number_of_queries(
    clin, django_assert_num_queries, django_capture_on_commit_callbacks
):
    warm = clin.ready(TOXIN)
    with django_capture_on_commit_callbacks(execute=True):  # as after a commit: the snapshot is known stored
        actions.open_record(clin.actor("li"), warm.pk)  # warms the engine's snapshot caches
    for name in ("赵女士", "钱女士"):
        case = clin.ready(TOXIN, client=clin.new_client(name))
        actor = clin.actor("li")
        with django_assert_num_queries(GATE_QUERIES):
            actions.open_record(actor, case.pk)


def test_a_suspended_operator_cannot_sign_the_assessment(clin):
    case = clin.case(TOXIN)
    reg.change_practitioner_status(SYSTEM, clin.clinic.li.pk, status="suspended", reason="停业整顿")
    with pytest.raises(ActionError) as exc:
        actions.save_assessment(clin.actor("zhang"), case.pk, answers=clin_answers())
        actions.sign_assessment(clin.actor("li"), case.pk, role="chief")
    assert exc.value.code in ("NOT_A_PRACTITIONER", "SIGNER_NOT_QUALIFIED")


# savepoint, the locked case (+ institution, client), the engine (rules generation; the decision-log row — the
# same practitioner's snapshot is already stored), seven step tables (consultation, consent, current template,
# assessment, review, node 1, privacy consent, record), the record insert and the case update, five for the
# audit chain, release: the same at the first case and the hundredth.
GATE_QUERIES = 20
