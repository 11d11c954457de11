"""Submission and approval: every verdict path, routing by risk, separation of duties, the grant and the
decision engine seeing it at once, notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions as authz_actions
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import make_doctor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.core.models import Membership
from meiguard.notify.models import Notification
from meiguard.workflow import actions, queries
from meiguard.workflow.models import Application

from .conftest import END, HIGH, LOW, MEDIUM, START


def _stages(app: Application) -> list[tuple[int, str, str]]:
    return list(app.steps.order_by("round", "order").values_list("round", "stage", "status"))


def _notified(username: str, wf, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(recipient=wf.users[username], kind=kind).order_by("pk"))


def test_low_risk_goes_to_the_medical_director_and_grants_on_approval(wf, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    app = wf.draft("li", valid_from=today)
    before = authz_actions.check(
        wf.actor("li"),
        authz_actions.as_request(institution_id=wf.jia.pk, practitioner_id=wf.li.pk, procedure_code=LOW),
    )
    assert "AUTHORIZATION_MISSING" in before.decision.codes()

    with django_capture_on_commit_callbacks(execute=True):
        app = actions.submit(wf.actor("li"), app.pk)
    assert (app.status, app.round) == ("in_review", 1)
    assert _stages(app) == [(1, "medical_director", "open")]
    step = wf.open_step(app)
    assert step.pool_size == 2  # zhou and ma
    for name in ("zhou", "ma"):
        [note] = _notified(name, wf, "approval")
        assert f"#{app.pk}" in note.title and note.url == f"/applications/{app.pk}/act/"
    assert any(m.to == ["zhou@example.cn"] for m in mail.outbox)

    with django_capture_on_commit_callbacks(execute=True):
        app = wf.vote("zhou", app, "approve", "同意")
    assert app.status == "approved" and app.decided_at is not None
    auth = app.authorization
    assert auth is not None and auth.status == "active"
    assert (auth.kind, auth.practitioner_id, auth.procedure_code) == ("qualification", wf.li.pk, LOW)
    assert (auth.valid_from, auth.valid_until) == (today, END)
    assert auth.granted_by_id == wf.users["zhou"].pk
    assert _stages(app) == [(1, "medical_director", "approved")]

    after = authz_actions.check(
        wf.actor("li"),
        authz_actions.as_request(institution_id=wf.jia.pk, practitioner_id=wf.li.pk, procedure_code=LOW),
    )
    assert after.decision.allowed, after.decision.codes()

    [done] = _notified("li", wf, "application")
    assert "已批准" in done.title and done.url == f"/applications/{app.pk}/"
    assert any(m.to == ["li@example.cn"] for m in mail.outbox)
    codes = list(
        AuditEntry.objects.filter(object_type="workflow.application", object_id=str(app.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert codes == [
        "workflow.application.created",
        "workflow.application.submitted",
        "workflow.application.approved",
    ]
    authz_entries = AuditEntry.objects.filter(object_type="authz.authorization", object_id=str(auth.pk))
    assert set(authz_entries.values_list("actor_label", flat=True)) == {"zhou"}


def test_medium_risk_adds_the_compliance_officer(wf, django_capture_on_commit_callbacks):
    app = wf.submitted("li", procedure_code=MEDIUM)
    assert app.risk_level == "medium"
    assert [s for _, s, _ in _stages(app)] == ["medical_director", "compliance_officer"]
    assert not _notified("zhao", wf, "approval")  # not yet: the second step is waiting
    with django_capture_on_commit_callbacks(execute=True):
        app = wf.vote("ma", app)
    assert app.status == "in_review"
    assert _stages(app) == [(1, "medical_director", "approved"), (1, "compliance_officer", "open")]
    assert len(_notified("zhao", wf, "approval")) == 1
    app = wf.vote("zhao", app)
    assert app.status == "approved" and app.authorization.status == "active"
    assert app.authorization.granted_by_id == wf.users["zhao"].pk
    assert (
        AuditEntry.objects.filter(action="workflow.application.advanced", object_id=str(app.pk)).count() == 1
    )
    assert AuditEntry.objects.filter(action="workflow.approvalstep.voted").count() == 2


def test_high_risk_without_a_committee_is_refused(wf):
    app = wf.draft("li", procedure_code=HIGH)
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("li"), app.pk)
    assert (exc.value.code, exc.value.status) == ("NO_COMMITTEE", 409)
    assert "专家委员会" in str(exc.value.message)
    app.refresh_from_db()
    assert (app.status, app.round) == ("draft", 0) and not app.steps.exists()


def test_high_risk_needs_n_of_m_committee_members(wf):
    wf.with_committee(quorum=2)  # zhou, zhao, wang, he
    app = wf.submitted("li", procedure_code=HIGH)
    assert [s for _, s, _ in _stages(app)] == ["medical_director", "compliance_officer", "expert_committee"]
    app = wf.vote("ma", app)
    app = wf.vote("zhao", app)
    step = wf.open_step(app)
    assert (step.stage, step.required_approvals, step.pool_size) == ("expert_committee", 2, 4)
    app = wf.vote("zhou", app)
    assert app.status == "in_review" and wf.open_step(app).pk == step.pk  # 1 of 2
    app = wf.vote("he", app, "approve", "同意,限 3 级")
    assert app.status == "approved"
    auth = app.authorization
    assert auth.status == "active" and auth.procedure_code == HIGH
    # he is a doctor, not an archive writer: the grant still records him as the approver
    assert auth.granted_by_id == wf.users["he"].pk
    assert (
        AuditEntry.objects.get(
            object_type="authz.authorization", object_id=str(auth.pk), action="authz.authorization.created"
        ).actor_id
        == wf.users["he"].pk
    )


def test_the_committee_rejects_once_the_quorum_is_out_of_reach(wf):
    wf.with_committee(quorum=3)
    app = wf.submitted("li", procedure_code=HIGH)
    wf.vote("ma", app)
    wf.vote("zhao", app)
    app = wf.vote("zhou", app, "reject", "风险过高")
    assert app.status == "in_review"  # 3 of the remaining 3 could still approve
    app = wf.vote("he", app, "reject", "经验不足")
    assert app.status == "rejected" and app.status_reason == "经验不足"
    assert app.authorization is None
    assert _stages(app)[-1] == (1, "expert_committee", "rejected")


def test_any_committee_member_may_return_for_more_information(wf):
    wf.with_committee(quorum=2)
    app = wf.submitted("li", procedure_code=HIGH)
    wf.vote("ma", app)
    wf.vote("zhao", app)
    app = wf.vote("wang", app, "return", "请补充近一年病例")
    assert app.status == "returned" and app.status_reason == "请补充近一年病例"


def test_reject_at_the_first_step_ends_it(wf, django_capture_on_commit_callbacks):
    app = wf.submitted("li", procedure_code=MEDIUM)
    with django_capture_on_commit_callbacks(execute=True):
        app = wf.vote("zhou", app, "reject", "未完成培训")
    assert (app.status, app.status_reason) == ("rejected", "未完成培训")
    assert _stages(app) == [(1, "medical_director", "rejected"), (1, "compliance_officer", "cancelled")]
    assert not Authorization.objects.filter(practitioner=wf.li).exists()
    [note] = _notified("li", wf, "application")
    assert "已驳回" in note.title and "未完成培训" in note.body
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("li"), app.pk)  # rejected is final
    assert exc.value.code == "INVALID_STATE"


def test_reject_and_return_need_a_comment(wf):
    app = wf.submitted("li")
    step = wf.open_step(app)
    for verdict in ("reject", "return"):
        with pytest.raises(FieldErrors) as exc:
            actions.act(wf.actor("zhou"), step.pk, verdict=verdict, comment="  ")
        assert "comment" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        actions.act(wf.actor("zhou"), step.pk, verdict="maybe")
    assert "verdict" in exc.value.errors
    assert not step.votes.exists()


def test_return_edit_resubmit(wf, django_capture_on_commit_callbacks):
    app = wf.submitted("li", procedure_code=MEDIUM)
    app = wf.vote("zhou", app)
    with django_capture_on_commit_callbacks(execute=True):
        app = wf.vote("zhao", app, "return", "请上传衡力培训证明")
    assert app.status == "returned"
    assert "退回补充" in _notified("li", wf, "application")[0].title

    actions.update_application(wf.actor("li"), app.pk, data={"justification": "已补充培训证明"})
    actions.add_evidence(
        wf.actor("li"),
        app.pk,
        kind="training",
        qualification_id=wf.li.qualifications.filter(kind="training_certificate").first().pk,
    )
    with django_capture_on_commit_callbacks(execute=True):
        app = actions.submit(wf.actor("li"), app.pk)
    assert (app.status, app.round) == ("in_review", 2)
    assert _stages(app) == [
        (1, "medical_director", "approved"),
        (1, "compliance_officer", "returned"),
        (2, "medical_director", "open"),
        (2, "compliance_officer", "waiting"),
    ]
    # the new round starts from the first level again, and its notification is a new one
    assert len(_notified("zhou", wf, "approval")) == 2
    rounds = queries.timeline(app)
    assert [r.number for r in rounds] == [2, 1]
    app = wf.vote("zhou", app)
    app = wf.vote("zhao", app)
    assert app.status == "approved"


def test_separation_of_duties(wf):
    zhou_doctor = make_doctor(wf.jia, "周主任", user_id=wf.users["zhou"].pk)
    app = wf.submitted("zhou", practitioner_id=zhou_doctor.pk)  # the director applies for himself
    step = wf.open_step(app)
    assert step.pool_size == 1  # only ma may approve
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("zhou"), step.pk, verdict="approve")
    assert (exc.value.code, exc.value.status) == ("SELF_APPROVAL", 403)
    assert not queries.pending_for(wf.actor("zhou")).exists()

    mine = wf.submitted("li")
    step = wf.open_step(mine)
    for name in ("li", "zhao", "zhang", "qian"):
        with pytest.raises(ActionError) as exc:
            actions.act(wf.actor(name), step.pk, verdict="approve")
        assert exc.value.status == 403, name
    with pytest.raises(NotFoundField) as nf:
        actions.act(wf.actor("sun"), step.pk, verdict="approve")
    assert nf.value.field == "step_id"
    assert not step.votes.exists()


def test_an_applicant_on_the_committee_cannot_vote_on_their_own(wf):
    wf.with_committee(quorum=1, members=("wang", "he"))
    app = wf.submitted("wang", procedure_code=HIGH)  # wang files for li, and sits on the committee
    wf.vote("zhou", app)
    wf.vote("zhao", app)
    step = wf.open_step(app)
    assert step.pool_size == 1
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("wang"), step.pk, verdict="approve")
    assert exc.value.code == "SELF_APPROVAL"
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("ma"), step.pk, verdict="approve")  # a director, but not on the committee
    assert exc.value.code == "NOT_AN_APPROVER"
    assert wf.vote("he", app).status == "approved"


def test_one_vote_per_member_and_no_vote_on_a_closed_step(wf):
    wf.with_committee(quorum=3)
    app = wf.submitted("li", procedure_code=HIGH)
    first = wf.open_step(app)
    wf.vote("zhou", app)
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("ma"), first.pk, verdict="approve")
    assert (exc.value.code, exc.value.status) == ("STEP_NOT_OPEN", 409)
    assert "通过" in str(exc.value.message)
    wf.vote("zhao", app)
    committee_step = wf.open_step(app)
    wf.vote("wang", app)
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("wang"), committee_step.pk, verdict="approve")
    assert (exc.value.code, exc.value.status) == ("ALREADY_VOTED", 409)


def test_a_route_nobody_can_take_is_refused(wf):
    Membership.objects.filter(role="medical_director").update(is_active=False)
    app = wf.draft("li")
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("li"), app.pk)
    assert (exc.value.code, exc.value.status) == ("NO_APPROVER", 409)
    assert "医务科" in str(exc.value.message)


def test_a_committee_too_small_for_its_quorum_once_the_applicant_is_excluded(wf):
    wf.with_committee(quorum=2, members=("wang", "he"))
    app = wf.draft("wang", procedure_code=HIGH)
    with pytest.raises(ActionError) as exc:
        actions.submit(wf.actor("wang"), app.pk)
    assert exc.value.code == "COMMITTEE_TOO_SMALL"


def test_an_overlapping_grant_is_refused_and_nothing_changes(wf):
    app = wf.submitted("li")
    authz_actions.create_authorization(
        wf.actor("zhao"),
        institution_id=wf.jia.pk,
        data={
            "kind": "qualification",
            "practitioner_id": wf.li.pk,
            "procedure_code": LOW,
            "valid_from": START,
        },
        activate=True,
    )
    step = wf.open_step(app)
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("zhou"), step.pk, verdict="approve")
    assert (exc.value.code, exc.value.status) == ("AUTHORIZATION_OVERLAP", 409)
    app.refresh_from_db()
    step.refresh_from_db()
    assert (app.status, step.status, step.votes.count()) == ("in_review", "open", 0)


def test_pending_for_and_the_application_views(wf):
    wf.with_committee(quorum=1, members=("he",))
    low = wf.submitted("li")
    high = wf.submitted("li", procedure_code=HIGH, valid_from=dt.date(2027, 1, 1))
    zhou = queries.pending_for(wf.actor("zhou"))
    assert sorted(s.application_id for s in zhou) == sorted([low.pk, high.pk])
    assert not queries.pending_for(wf.actor("zhao")).exists()
    assert not queries.pending_for(wf.actor("li")).exists()
    assert not queries.pending_for(wf.actor("sun")).exists()
    wf.vote("zhou", high)
    assert [s.stage for s in queries.pending_for(wf.actor("zhao"))] == ["compliance_officer"]
    assert [s.application_id for s in queries.pending_for(wf.actor("zhou"))] == [low.pk]
    wf.vote("zhao", high)
    [step] = queries.pending_for(wf.actor("he"))
    assert step.application.practitioner.name == "李医生" and step.application.institution.name == "甲诊所"

    assert set(queries.applications(wf.actor("li"), view="mine")) == {low, high}
    assert list(queries.applications(wf.actor("he"), view="to_approve")) == [high]
    assert not queries.applications(wf.actor("sun")).exists()
    assert queries.applications(wf.actor("qian")).count() == 2  # the association oversees 甲
    assert list(queries.applications(wf.actor("li"), risk_level="high")) == [high]


def test_withdrawing_an_application_in_review_closes_its_steps(wf):
    app = wf.submitted("li")
    actions.withdraw(wf.actor("li"), app.pk, reason="暂不开展")
    assert not queries.pending_for(wf.actor("zhou")).exists()
    assert _stages(app) == [(1, "medical_director", "cancelled")]


def test_an_institution_level_application_reaches_its_approvers(wf):
    wf.with_committee(quorum=1, members=("he",))
    app = wf.submitted(
        "wang",
        kind="technology",
        practitioner_id=None,
        procedure_code="",
        technology_name="新型溶脂技术",
        technology_kind="new",
    )
    assert app.risk_level == "high"
    assert [s.application_id for s in queries.pending_for(wf.actor("zhou"))] == [app.pk]
    wf.vote("zhou", app)
    wf.vote("zhao", app)
    app = wf.vote("he", app)
    auth = app.authorization
    assert (auth.kind, auth.practitioner_id, auth.grantee_institution_id) == ("technology", None, wf.jia.pk)
    assert (auth.technology_name, auth.status) == ("新型溶脂技术", "active")


def test_pending_for_is_one_query_however_many_rows(wf, django_assert_num_queries):
    zhou = wf.actor("zhou")
    wf.submitted("li")
    with django_assert_num_queries(1):
        rows = [
            (s.application.practitioner.name, s.application.institution.name)
            for s in queries.pending_for(zhou)
        ]
    assert len(rows) == 1
    for code in ("derm-microneedling", "derm-ipl", "derm-laser-treatment", "derm-cryotherapy"):
        wf.submitted("li", procedure_code=code)
    with django_assert_num_queries(1):
        rows = [
            (s.application.practitioner.name, s.application.institution.name)
            for s in queries.pending_for(zhou)
        ]
    assert len(rows) == 5


def test_the_final_approval_is_refused_when_the_institution_no_longer_offers_it(wf):
    """Submitted while 甲 could offer it, approved after the subject was dropped: the vote and grant roll back."""
    app = wf.submitted("li")  # LOW: derm-chemical-peel, 美容皮肤科
    step = wf.open_step(app)
    audits = AuditEntry.objects.count()
    wf.jia.subjects = ["cosmetic_surgery"]
    wf.jia.save(update_fields=["subjects"])
    with pytest.raises(ActionError) as exc:
        actions.act(wf.actor("zhou"), step.pk, verdict="approve", comment="同意")
    assert exc.value.code == "AUTHORIZATION_BEYOND_INSTITUTION"
    assert [d["code"] for d in exc.value.details] == ["SUBJECT_NOT_REGISTERED"]
    app.refresh_from_db()
    assert app.status == "in_review" and app.authorization_id is None
    assert not step.votes.exists() and not Authorization.objects.filter(procedure_code=LOW).exists()
    assert AuditEntry.objects.count() == audits
