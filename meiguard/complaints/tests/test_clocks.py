"""Both complaint clocks with a controlled clock: acknowledgement (24 h) and resolution (5 working days, 10 when
several departments are involved), across a weekend; the owner and 医务科/授权专员 told before and at breach,
once each; the daily lifecycle job runs them too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.complaints import actions, policy
from meiguard.complaints.models import Complaint
from meiguard.notify.models import Notification

from .conftest import NAME, PHONE, T0, take

pytestmark = pytest.mark.django_db


def _at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(y, m, d, h, mi))


def _keys(user) -> list[str]:
    return sorted(
        Notification.objects.filter(recipient=user, dedupe_key__startswith="complaints:").values_list(
            "dedupe_key", flat=True
        )
    )


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        (_at(2026, 12, 4, 15), 5, _at(2026, 12, 12)),  # Fri → end of next Fri
        (_at(2026, 12, 5, 10), 5, _at(2026, 12, 12)),  # Sat → counting starts Monday
        (_at(2026, 12, 6, 23, 59), 1, _at(2026, 12, 8)),  # Sun → end of Monday
        (_at(2026, 12, 7, 0, 1), 1, _at(2026, 12, 9)),  # Mon → end of Tuesday
        (_at(2026, 12, 3, 9), 2, _at(2026, 12, 8)),  # Thu + 2 → Fri, Mon → end of Monday
        (_at(2026, 12, 4, 15), 10, _at(2026, 12, 19)),  # two weekends
    ],
)
def test_working_days_skip_weekends(received, days, due):
    assert policy.add_working_days(received, days) == due


def test_acknowledgement_warned_before_and_breached_at_24_hours_once_each(clin, clock, liu):
    users = clin.world.users
    c = take(clin, "zhang")
    assert c.owner_id == users["zhang"].pk
    assert c.ack_due_at == T0 + dt.timedelta(hours=24)
    # Intake told the officers (not the taker), without personal data.
    assert _keys(users["liu"]) == [f"complaints:{c.pk}:received"]
    assert _keys(users["zhang"]) == []
    assert actions.tick(T0 + dt.timedelta(hours=19, minutes=59))["complaints_ack_warned"] == 0
    assert actions.tick(T0 + dt.timedelta(hours=20))["complaints_ack_warned"] == 1
    assert actions.tick(T0 + dt.timedelta(hours=21))["complaints_ack_warned"] == 0  # once
    warn = f"complaints:{c.pk}:ack:warn"
    for name in ("zhang", "liu", "zhao"):  # owner, 医务科, 授权专员
        assert warn in _keys(users[name]), name
    for name in ("wang", "li", "qian", "sun"):  # admins only when there are no officers; others never
        assert warn not in _keys(users[name]), name
    assert actions.tick(T0 + dt.timedelta(hours=23, minutes=59))["complaints_ack_breached"] == 0
    assert actions.tick(T0 + dt.timedelta(hours=24))["complaints_ack_breached"] == 1
    assert actions.tick(T0 + dt.timedelta(hours=30))["complaints_ack_breached"] == 0
    breach = f"complaints:{c.pk}:ack:breach"
    assert Notification.objects.filter(dedupe_key=breach).count() == 3
    assert Notification.objects.filter(dedupe_key=warn).count() == 3
    c.refresh_from_db()
    assert c.ack_state(T0 + dt.timedelta(hours=30)) == "overdue"
    entry = AuditEntry.objects.get(action="complaints.complaint.breached")
    assert entry.changes == {"clock": "ack", "complaints": [c.tracking_no]}


def test_resolution_five_working_days_across_the_weekend(clin, clock, liu):
    users = clin.world.users
    c = take(clin, "zhang")
    clock.set(T0 + dt.timedelta(hours=1))
    actions.acknowledge(clin.actor("zhang"), c.pk, note="已电话回复")
    due = _at(2026, 12, 12)  # received Friday: Mon 7 … Fri 11, due at the end of Friday the 11th
    c.refresh_from_db()
    assert c.resolve_due_at == due
    # Over the weekend and until 24 h before: nothing.
    for at in (_at(2026, 12, 5, 12), _at(2026, 12, 7, 9), _at(2026, 12, 10, 23, 59)):
        counts = actions.tick(at)
        assert counts["complaints_resolve_warned"] == 0 and counts["complaints_ack_breached"] == 0, at
    assert actions.tick(_at(2026, 12, 11, 0))["complaints_resolve_warned"] == 1
    assert actions.tick(_at(2026, 12, 11, 23, 59))["complaints_resolve_breached"] == 0
    assert actions.tick(due)["complaints_resolve_breached"] == 1
    assert actions.tick(due + dt.timedelta(days=3))["complaints_resolve_breached"] == 0
    for name in ("zhang", "liu", "zhao"):
        keys = _keys(users[name])
        assert f"complaints:{c.pk}:resolve:warn" in keys and f"complaints:{c.pk}:resolve:breach" in keys
    assert Notification.objects.filter(dedupe_key=f"complaints:{c.pk}:resolve:breach").count() == 3


def test_several_departments_get_ten_working_days(clin, clock):
    c = take(clin, "zhao", multi_department=True)
    assert c.resolve_due_at == _at(2026, 12, 19)
    assert actions.tick(_at(2026, 12, 12, 1))["complaints_resolve_breached"] == 0


def test_a_handover_moves_the_notices_to_the_new_owner(clin, clock, liu):
    users = clin.world.users
    c = take(clin, "zhang")
    actions.handover(clin.actor("zhang"), c.pk, to_user_id=users["li"].pk, reason="需主诊医师解释治疗方案")
    actions.tick(T0 + dt.timedelta(hours=20))
    assert f"complaints:{c.pk}:ack:warn" in _keys(users["li"])
    assert f"complaints:{c.pk}:ack:warn" not in _keys(users["zhang"])


def test_done_on_time_stops_the_clocks(clin, clock, liu):
    c = take(clin, "zhao")
    clock.set(T0 + dt.timedelta(hours=2))
    actions.acknowledge(clin.actor("zhao"), c.pk)
    clock.set(_at(2026, 12, 8, 10))
    actions.resolve_complaint(clin.actor("zhao"), c.pk, resolution="道歉并调整排班")
    counts = actions.tick(_at(2026, 12, 20))
    assert counts == {
        "complaints_ack_warned": 0,
        "complaints_ack_breached": 0,
        "complaints_resolve_warned": 0,
        "complaints_resolve_breached": 0,
    }
    c.refresh_from_db()
    assert (c.ack_state(clock.now), c.resolve_state(clock.now)) == ("on_time", "on_time")


def test_a_scheduler_that_was_down_sends_the_breach_once_without_a_late_warning(clin, clock, liu):
    c = take(clin, "zhang")
    counts = actions.tick(_at(2026, 12, 20))
    assert counts["complaints_ack_breached"] == 1 and counts["complaints_resolve_breached"] == 1
    assert counts["complaints_ack_warned"] == 0 and counts["complaints_resolve_warned"] == 0
    c.refresh_from_db()
    assert c.ack_warned_at is not None and c.resolve_breached_at is not None


def test_the_clock_job_costs_a_fixed_number_of_queries(clin, clock, liu, django_assert_max_num_queries):
    for _ in range(3):
        take(clin, "zhang")
    with django_assert_max_num_queries(30):
        actions.tick(_at(2026, 12, 20))


def test_notices_and_audit_never_carry_the_complainants_data(clin, clock, liu):
    c = take(clin, "zhang")
    actions.tick(_at(2026, 12, 20))
    actions.acknowledge(clin.actor("zhang"), c.pk)
    actions.escalate(clin.actor("zhao"), c.pk, reason="协调未果")
    texts = [
        f"{n.title} {n.body} {n.params}"
        for n in Notification.objects.filter(dedupe_key__startswith="complaints:")
    ]
    assert texts
    for text in texts:
        assert NAME not in text and PHONE not in text and PHONE[-4:] not in text
    for e in AuditEntry.objects.filter(action__startswith="complaints."):
        blob = f"{e.changes} {e.reason} {e.object_repr}"
        assert NAME not in blob and PHONE not in blob, e.action


def test_the_daily_lifecycle_job_runs_the_complaint_clocks(clin, clock, liu):
    from meiguard.lifecycle import actions as lifecycle
    from meiguard.lifecycle.models import JobRun

    take(clin, "zhang")
    clock.set(_at(2026, 12, 20, 9))
    counts = lifecycle.run_job("aftercare_clocks", clock.now.date().isoformat())
    assert counts["complaints_ack_breached"] == 1 and counts["complaints_resolve_breached"] == 1
    assert "follow_ups_due" in counts  # aftercare's own counts are still there
    assert JobRun.objects.get(job="aftercare_clocks").status == "succeeded"


def test_the_tick_command(clin, clock, liu):
    from io import StringIO

    from django.core.management import call_command

    take(clin, "zhang")
    clock.set(_at(2026, 12, 20))
    out = StringIO()
    call_command("complaints_tick", stdout=out)
    assert "complaints_ack_breached=1" in out.getvalue()
    assert Complaint.objects.get().ack_breached_at is not None


def test_each_institution_sets_its_own_limits_in_its_policy(clin, clock):
    from meiguard.authz import snapshot
    from meiguard.rules import institution

    zhao = clin.actor("zhao")
    draft = institution.save_draft(
        zhao,
        clin.clinic.jia.pk,
        values={"complaint_ack_hours": 8, "complaint_resolve_working_days": 3},
    )
    institution.publish(zhao, clin.clinic.jia.pk, draft.version, effective_from=timezone.localdate())
    snapshot.clear()
    c = take(clin, "zhao")
    assert c.ack_due_at == T0 + dt.timedelta(hours=8)
    assert c.resolve_due_at == _at(2026, 12, 10)  # Fri → Mon, Tue, Wed: end of Wednesday
    multi = take(clin, "zhao", multi_department=True)
    assert multi.resolve_due_at == _at(2026, 12, 19)  # the unchanged 10-day default
    assert actions.tick(T0 + dt.timedelta(hours=8))["complaints_ack_breached"] == 2
