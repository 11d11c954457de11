"""Findings and their actions: warn and retrain notify, suspend suspends the authorization (the engine denies
right after commit), close; every change is audited and a failed guard writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.core.apierrors import NotFoundField
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.notify.models import Notification, NotificationKind
from meiguard.reviews import actions
from meiguard.reviews.choices import CampaignStatus, FindingStatus, ItemStatus
from meiguard.reviews.models import ChecklistItem, Finding

from .conftest import TODAY, check


def _notified(user, key_part: str) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, dedupe_key__contains=key_part))


def test_suspend_from_a_finding_suspends_the_authorization_and_the_engine_denies(
    clinic, campaign, django_capture_on_commit_callbacks
):
    qian = clinic.world.actor("qian")
    auth = clinic.auths["procedure"]
    assert check(clinic).decision.allowed  # warm the engine's cache first
    with django_capture_on_commit_callbacks(execute=True):
        finding = actions.raise_finding(
            qian,
            campaign.pk,
            authorization_id=auth.pk,
            severity="high",
            description="未按授权范围操作,暂停肉毒素注射授权",
            action="suspend",
        )
    auth.refresh_from_db()
    assert auth.status == AuthorizationStatus.SUSPENDED
    assert "问题 #%d" % finding.pk in auth.status_reason and "未按授权范围操作" in auth.status_reason
    assert finding.practitioner_id == clinic.li.pk  # taken from the authorization
    decided = check(clinic)
    assert not decided.decision.allowed
    assert "AUTHORIZATION_SUSPENDED" in decided.decision.codes()
    # audited: the suspension names the auditor, and the finding's action is recorded
    entry = AuditEntry.objects.get(action="authz.authorization.suspended", object_id=str(auth.pk))
    assert entry.actor_label == "qian"
    assert AuditEntry.objects.filter(
        action="reviews.finding.action_recorded", object_id=str(finding.pk)
    ).exists()
    # the practitioner and the institution's compliance officer and admin are told
    for name in ("li", "zhao", "wang"):
        (n,) = _notified(clinic.world.users[name], f"reviews:finding:{finding.pk}:suspend")
        assert n.kind == NotificationKind.SUSPENSION


def test_suspend_needs_an_authorization_and_a_failed_suspension_writes_nothing(clinic, campaign):
    qian = clinic.world.actor("qian")
    with pytest.raises(FieldErrors) as exc:
        actions.raise_finding(
            qian, campaign.pk, practitioner_id=clinic.li.pk, description="x", action="suspend"
        )
    assert "authorization_id" in exc.value.errors
    assert not Finding.objects.exists()
    auth = clinic.auths["device"]
    Authorization.objects.filter(pk=auth.pk).update(status=AuthorizationStatus.REVOKED)
    with pytest.raises(ActionError) as exc2:
        actions.raise_finding(qian, campaign.pk, authorization_id=auth.pk, description="x", action="suspend")
    assert exc2.value.code == "INVALID_TRANSITION"
    assert not Finding.objects.exists()  # the finding rolled back with the refused suspension
    assert not AuditEntry.objects.filter(action__startswith="reviews.finding").exists()


def test_warn_notifies_the_practitioner_and_the_compliance_officer(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(
        qian, campaign.pk, practitioner_id=clinic.li.pk, description="核验记录不完整"
    )
    assert finding.action == ""
    actions.record_action(qian, finding.pk, action="warn", today=TODAY)
    finding.refresh_from_db()
    assert finding.action == "warn" and finding.action_by_id == clinic.world.users["qian"].pk
    for name in ("li", "zhao"):
        (n,) = _notified(clinic.world.users[name], f"reviews:finding:{finding.pk}:warn")
        assert n.kind == NotificationKind.REVIEW and "警示" in n.title and n.body == "核验记录不完整"
        assert n.url.endswith(f"#finding-{finding.pk}")
    assert not _notified(clinic.world.users["wang"], f"reviews:finding:{finding.pk}")


def test_retrain_sets_a_due_date_and_notifies(clinic, campaign, settings):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(
        qian, campaign.pk, practitioner_id=clinic.li.pk, description="学分不足", action="retrain", today=TODAY
    )
    assert finding.due_date == TODAY + dt.timedelta(days=30)
    (n,) = _notified(clinic.world.users["li"], f"reviews:finding:{finding.pk}:retrain")
    assert "再培训" in n.title and "2026-04-09" in n.title
    settings.REVIEWS_RETRAIN_DAYS = 14
    other = actions.raise_finding(
        qian, campaign.pk, practitioner_id=clinic.li.pk, description="另一项", action="retrain", today=TODAY
    )
    assert other.due_date == TODAY + dt.timedelta(days=14)


def test_actions_escalate_and_never_repeat_or_weaken(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(
        qian,
        campaign.pk,
        authorization_id=clinic.auths["product"].pk,
        description="x",
        action="retrain",
        today=TODAY,
    )
    for weaker in ("warn", "retrain"):
        with pytest.raises(ActionError) as exc:
            actions.record_action(qian, finding.pk, action=weaker, today=TODAY)
        assert (exc.value.code, exc.value.status) == ("ACTION_NOT_ESCALATED", 409)
    actions.record_action(qian, finding.pk, action="suspend", today=TODAY)
    assert Authorization.objects.get(pk=clinic.auths["product"].pk).status == AuthorizationStatus.SUSPENDED
    with pytest.raises(FieldErrors):
        actions.record_action(qian, finding.pk, action="fire", today=TODAY)


def test_a_due_date_in_the_past_is_refused(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="x")
    with pytest.raises(FieldErrors) as exc:
        actions.record_action(
            qian, finding.pk, action="retrain", due_date=TODAY - dt.timedelta(days=1), today=TODAY
        )
    assert "due_date" in exc.value.errors
    finding.refresh_from_db()
    assert finding.action == "" and finding.due_date is None


def test_findings_name_only_people_and_authorizations_of_the_institution(clinic, campaign):
    qian = clinic.world.actor("qian")
    with pytest.raises(NotFoundField) as exc:
        actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.sun_doctor.pk, description="x")
    assert exc.value.field == "practitioner_id"
    from meiguard.authz.tests.conftest import authorize

    foreign = authorize(clinic.yi, clinic.sun_doctor)
    with pytest.raises(NotFoundField) as exc:
        actions.raise_finding(qian, campaign.pk, authorization_id=foreign.pk, description="x")
    assert exc.value.field == "authorization_id"
    with pytest.raises(FieldErrors):
        actions.raise_finding(qian, campaign.pk, description="   ")
    assert not Finding.objects.exists()


def test_an_item_with_an_open_finding_cannot_be_marked_ok(clinic, campaign):
    qian = clinic.world.actor("qian")
    actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    item = ChecklistItem.objects.filter(campaign=campaign).first()
    assert item is not None
    finding = actions.raise_finding(qian, campaign.pk, item_id=item.pk, description="问题")
    item.refresh_from_db()
    assert item.status == ItemStatus.FINDING
    with pytest.raises(ActionError) as exc:
        actions.mark_item_ok(qian, item.pk)
    assert exc.value.code == "ITEM_HAS_OPEN_FINDINGS"
    actions.close_finding(qian, finding.pk, note="已整改")
    assert actions.mark_item_ok(qian, item.pk, note="复查合格").status == ItemStatus.OK


def test_closing_a_finding_needs_a_note_and_happens_once(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="x")
    with pytest.raises(FieldErrors):
        actions.close_finding(qian, finding.pk, note=" ")
    closed = actions.close_finding(qian, finding.pk, note="已完成再培训并考核合格")
    assert closed.status == FindingStatus.CLOSED and closed.closed_by_id == clinic.world.users["qian"].pk
    with pytest.raises(ActionError) as exc:
        actions.close_finding(qian, finding.pk, note="again")
    assert exc.value.code == "FINDING_CLOSED"
    with pytest.raises(ActionError):
        actions.record_action(qian, finding.pk, action="warn")


def test_closing_a_campaign_with_open_findings_needs_a_note(clinic, campaign):
    qian = clinic.world.actor("qian")
    finding = actions.raise_finding(qian, campaign.pk, practitioner_id=clinic.li.pk, description="x")
    with pytest.raises(ActionError) as exc:
        actions.close_campaign(qian, campaign.pk, summary="总体良好")
    assert (exc.value.code, exc.value.status, exc.value.field) == ("OPEN_FINDINGS", 409, "note")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
    closed = actions.close_campaign(
        qian, campaign.pk, summary="总体良好", note="问题 #%d 转下季度跟进" % finding.pk
    )
    assert closed.status == CampaignStatus.CLOSED and closed.closed_at is not None
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.OPEN  # carried over, still closable
    with pytest.raises(ActionError) as exc:
        actions.rebuild_checklist(qian, campaign.pk)
    assert exc.value.code == "CAMPAIGN_CLOSED"
    with pytest.raises(ActionError):
        actions.raise_finding(qian, campaign.pk, description="late")
    actions.close_finding(qian, finding.pk, note="下季度已复查")


def test_a_campaign_without_open_findings_closes_without_a_note(clinic, campaign):
    closed = actions.close_campaign(clinic.world.actor("qian"), campaign.pk, summary="未发现问题")
    assert closed.status == CampaignStatus.CLOSED and closed.summary == "未发现问题"
    assert AuditEntry.objects.filter(action="reviews.campaign.closed", object_id=str(campaign.pk)).exists()


def test_opening_an_association_review_tells_the_institution(clinic, campaign):
    for name in ("wang", "zhao"):
        (n,) = _notified(clinic.world.users[name], f"reviews:campaign:{campaign.pk}:opened")
        assert "2026-Q1" in n.title
    assert not _notified(clinic.world.users["li"], f"reviews:campaign:{campaign.pk}")


def test_an_internal_reviewer_suspends_with_their_own_rights(clinic, django_capture_on_commit_callbacks):
    zhao = clinic.world.actor("zhao")
    internal = actions.create_campaign(
        zhao, institution_id=clinic.jia.pk, period="2026-Q1", kind="internal", build=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        actions.raise_finding(
            zhao,
            internal.pk,
            authorization_id=clinic.auths["procedure"].pk,
            description="自查发现",
            action="suspend",
        )
    assert not check(clinic).decision.allowed
