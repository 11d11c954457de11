"""A grade-3 operation at a cosmetic hospital (the ``hospital`` fixture), walked through the domain actions: the
engine allows it there, the review goes to the committee (2 of 3), all three checklist nodes need surgeon,
anaesthetist and OR nurse; and the same item is refused where the institution's class or the surgeon's
grading authorization does not reach grade 3."""

from __future__ import annotations

import pytest

from meiguard.authz import actions as authz_actions
from meiguard.authz.tests.conftest import SYSTEM, authorize
from meiguard.clinical import actions, policy
from meiguard.clinical.models import ChecklistNode, OperationRecord
from meiguard.clinical.tests.conftest import GOOD_ANSWERS, PNG
from meiguard.clinical.tests.hospital import LIFT, Hospital, hospital  # noqa: F401  (fixture)
from meiguard.core.errors import ActionError
from meiguard.registry import actions as reg


def _ready_for_gate(h: Hospital):
    case = actions.create_case(
        h.actor("chen"),
        client_id=h.client.pk,
        procedure_code=LIFT,
        operator_id=h.surgeon.pk,
        anesthetist_id=h.anesthetist.pk,
        nurse_id=h.nurse.pk,
    )
    actions.save_consultation(h.actor("chen"), case.pk, needs="面颈部松弛", procedure_codes=[LIFT])
    actions.sign_consultation(h.actor("chen"), case.pk)
    tpl = actions.current_template(h.inst.pk, LIFT)
    assert tpl is not None
    actions.sign_consent(
        h.actor("he"),
        case.pk,
        template_id=tpl.pk,
        content_hash=tpl.content_hash,
        decision="signed",
        signer_name=h.client.name,
        signature_image=PNG,
    )
    actions.save_assessment(h.actor("he"), case.pk, answers=GOOD_ANSWERS, asa_class=1)
    actions.sign_assessment(h.actor("chen"), case.pk, role="chief")
    actions.sign_assessment(h.actor("lu"), case.pk, role="anesthetist")
    review = actions.open_review(h.actor("chen"), case.pk)
    assert (review.kind, review.required_approvals) == ("committee", 2)
    assert "grade:3" in review.warnings
    actions.record_discussion(h.actor("xu"), case.pk, department="美容外科", discussion="可行")
    actions.vote_review(h.actor("xu"), case.pk, verdict="approve")
    review = actions.vote_review(h.actor("lin"), case.pk, verdict="approve")
    review.refresh_from_db()
    assert review.status == "approved"
    return case


def _sign_node(h: Hospital, case, node: str) -> ChecklistNode:
    items = dict.fromkeys(policy.node_item_ids(node), True)
    row = None
    for who, party in (("chen", "surgeon"), ("lu", "anesthetist"), ("he", "nurse")):
        row = actions.sign_checklist_node(
            h.actor(who), case.pk, node=node, party=party, items=items, scanned=[case.code]
        )
    assert row is not None
    return row


def test_a_grade_3_lift_is_allowed_at_a_cosmetic_hospital_and_closes(hospital):  # noqa: F811
    h = hospital
    case = _ready_for_gate(h)
    assert (case.grade, case.anesthesia, case.needs_anesthetist) == (3, "general", True)
    node1 = _sign_node(h, case, "before_anesthesia")
    assert node1.required_parties == ["surgeon", "anesthetist", "nurse"]
    record = actions.open_record(h.actor("chen"), case.pk)
    assert record.decision.outcome in ("allow", "allow_with_warnings"), record.decision.reason_codes
    assert record.decision.procedure_code == LIFT
    _sign_node(h, case, "before_incision")
    actions.add_usage(
        h.actor("he"), case.pk, usage_key="k1", code=h.suture_code, dose_value=2, site="耳前切口"
    )
    _sign_node(h, case, "before_leaving")
    closed = actions.close_record(h.actor("chen"), case.pk, notes="手术顺利")
    assert closed.status == "closed"
    assert ChecklistNode.objects.filter(case=case, completed_at__isnull=False).count() == 3


def test_the_gate_refuses_grade_3_where_the_institution_class_stops_at_grade_2(
    hospital,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    h = hospital
    case = _ready_for_gate(h)
    _sign_node(h, case, "before_anesthesia")
    with django_capture_on_commit_callbacks(execute=True):  # the engine's caches see the change
        reg.update_institution(SYSTEM, h.inst.pk, institution_type="aesthetic_outpatient_dept")
    with pytest.raises(ActionError) as exc:
        actions.open_record(h.actor("chen"), case.pk)
    codes = {d["code"] for d in exc.value.details}
    assert {"ENGINE_DENIED", "PROCEDURE_GRADE_EXCEEDS_INSTITUTION"} <= codes
    assert not OperationRecord.objects.filter(case=case).exists()


def test_the_gate_refuses_grade_3_when_the_surgeon_is_authorized_only_to_grade_2(
    hospital,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    h = hospital
    case = _ready_for_gate(h)
    _sign_node(h, case, "before_anesthesia")
    with django_capture_on_commit_callbacks(execute=True):
        authz_actions.change_status(SYSTEM, h.auths["grading"].pk, action="revoke", reason="重新授权")
        authorize(h.inst, h.surgeon, procedure_code="", subject="cosmetic_surgery", max_grade=2)
    with pytest.raises(ActionError) as exc:
        actions.open_record(h.actor("chen"), case.pk)
    codes = {d["code"] for d in exc.value.details}
    assert "AUTHORIZATION_GRADE_LIMIT" in codes
