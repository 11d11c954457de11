"""Suspension, reinstatement and expiry take effect in the decision engine at once, and people are told."""

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.models import Authorization
from meiguard.authz.tests.conftest import PAST
from meiguard.lifecycle import actions, notices
from meiguard.lifecycle.models import JobRun
from meiguard.notify.models import Notification, NotificationKind

from .conftest import SYSTEM, authorize, with_emails

pytestmark = pytest.mark.django_db


def at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))


def check(c, day: dt.date):
    return authz.check(SYSTEM, c.request(at=at(day))).decision


def test_suspension_denies_at_once_and_reinstatement_restores(c, world, django_capture_on_commit_callbacks):
    with_emails(world)
    day = dt.date(2026, 3, 3)
    assert check(c, day).allowed  # warm the snapshot cache first
    pk = c.auths["procedure"].pk
    with django_capture_on_commit_callbacks(execute=True):
        authz.change_status(world.actor("zhao"), pk, action="suspend", reason="投诉核查")
    denied = check(c, day)
    assert not denied.allowed and "AUTHORIZATION_SUSPENDED" in denied.codes()
    with django_capture_on_commit_callbacks(execute=True):
        authz.change_status(world.actor("zhao"), pk, action="reinstate", reason="核查无误")
    assert check(c, day).allowed
    # Both transitions told li (the holder) and zhao (the compliance officer), in-app and by e-mail.
    got = sorted(Notification.objects.values_list("recipient__username", "kind", "title"))
    assert [(u, k) for u, k, _ in got] == [
        ("li", NotificationKind.SUSPENSION),
        ("li", NotificationKind.SUSPENSION),
        ("zhao", NotificationKind.SUSPENSION),
        ("zhao", NotificationKind.SUSPENSION),
    ]
    assert {t.split(":")[0] for _, _, t in got} == {"授权已暂停", "授权已恢复"}
    assert "投诉核查" in Notification.objects.filter(title__startswith="授权已暂停").first().body
    assert len(mail_to("li@example.cn")) == 2


def mail_to(address):
    from django.core import mail

    return [m for m in mail.outbox if address in m.to]


def test_calling_the_notice_again_for_the_same_transition_sends_nothing(c, world):
    auth = authz.change_status(SYSTEM, c.auths["procedure"].pk, action="suspend", reason="审查发现问题")
    assert Notification.objects.count() == 2  # sent by the audit hook
    assert notices.authorization_status_changed(auth, "suspend", "审查发现问题") == []
    assert Notification.objects.count() == 2
    with pytest.raises(ValueError):
        notices.authorization_status_changed(auth, "explode")


def test_the_expiry_job_expires_denies_and_tells_once(c, world, django_capture_on_commit_callbacks):
    authz.change_status(SYSTEM, c.auths["procedure"].pk, action="revoke", reason="改为短期授权")
    short = authorize(c.jia, c.li, valid_from=PAST, valid_until=dt.date(2026, 3, 10))
    assert check(c, dt.date(2026, 3, 10)).allowed
    Notification.objects.all().delete()

    day = dt.date(2026, 3, 11)
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.run_job("expire_authorizations", day.isoformat())
    assert first == {"expired": 1}
    short.refresh_from_db()
    assert short.status == "expired"
    decision = check(c, day)
    assert not decision.allowed and "AUTHORIZATION_EXPIRED" in decision.codes()
    told = sorted(Notification.objects.values_list("recipient__username", "kind"))
    assert told == [("li", NotificationKind.EXPIRY), ("zhao", NotificationKind.EXPIRY)]

    with django_capture_on_commit_callbacks(execute=True):
        again = actions.run_job("expire_authorizations", day.isoformat())
    assert again == {"expired": 0}
    assert Notification.objects.count() == 2
    assert Authorization.objects.filter(status="expired").count() == 1
    assert list(JobRun.objects.values_list("status", flat=True)) == ["succeeded", "succeeded"]


def test_technology_grants_tell_both_institutions(c, world, django_capture_on_commit_callbacks):
    from meiguard.core.choices import Role
    from meiguard.core.models import Membership, User

    sun_co = User.objects.create_user(username="sun_co", password="pw-sun-co-123456")
    Membership.objects.create(user=sun_co, organization=world.org_yi, role=Role.COMPLIANCE_OFFICER)
    grant = authz.create_authorization(
        SYSTEM,
        institution_id=c.jia.pk,
        data={
            "kind": "technology",
            "grantee_institution_id": c.yi.pk,
            "technology_name": "微创下睑袋矫正技术",
            "technology_kind": "transfer",
            "valid_from": PAST,
            "valid_until": dt.date(2026, 3, 1),
        },
        activate=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        actions.run_job("expire_authorizations", "2026-03-03")
    grant.refresh_from_db()
    assert grant.status == "expired"
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"zhao", "sun_co"}


def test_an_expiry_with_an_active_renewal_says_the_renewal_takes_over(
    c, world, django_capture_on_commit_callbacks
):
    authz.change_status(SYSTEM, c.auths["procedure"].pk, action="revoke", reason="改为短期授权")
    old = authorize(c.jia, c.li, valid_from=PAST, valid_until=dt.date(2026, 3, 10))
    new = authz.renew_authorization(SYSTEM, old.pk, valid_until=dt.date(2027, 3, 10))
    authz.change_status(SYSTEM, new.pk, action="activate")
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        actions.run_job("expire_authorizations", "2026-03-11")
    note = Notification.objects.get(recipient=world.users["li"])
    assert note.title.startswith("授权已到期失效") and f"已由续期授权 #{new.pk} 接续" in note.body
    assert check(c, dt.date(2026, 3, 11)).allowed  # the renewal is in force
