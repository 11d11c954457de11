"""Every clock with a controlled clock: follow-ups due → missed → retried → lost; reaction clocks 48 h (mild),
2 h (moderate) and at once (severe): the right people told before and at breach, once each."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from meiguard.aftercare import actions
from meiguard.aftercare.models import AdverseReaction, FollowUp, Incident
from meiguard.audit.models import AuditEntry
from meiguard.notify.models import Notification

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db


def _keys(user) -> list[str]:
    return sorted(
        Notification.objects.filter(recipient=user, dedupe_key__startswith="aftercare:").values_list(
            "dedupe_key", flat=True
        )
    )


# ---- follow-ups ---------------------------------------------------------------------------------


def test_a_contact_is_announced_on_its_day_then_missed_retried_and_lost(clin, clock, liu):
    case = treat(clin, TOXIN)
    users = clin.world.users
    fu = FollowUp.objects.get(case=case, offset="24h")  # due T0 + 24 h (10-12-02 09:00)
    assert actions.run_clocks(T0 + dt.timedelta(hours=1))["follow_ups_due"] == 0  # not today yet
    counts = actions.run_clocks(T0 + dt.timedelta(hours=20))  # 12-02 05:00: due today
    assert counts["follow_ups_due"] == 1
    assert _keys(users["zhang"]) == [f"aftercare:fu:{fu.pk}:due:0"]
    assert actions.run_clocks(T0 + dt.timedelta(hours=21))["follow_ups_due"] == 0  # once
    # Overdue but within the retry interval (24 h): announced as overdue, still due.
    assert actions.run_clocks(T0 + dt.timedelta(hours=30))["follow_ups_due"] == 1
    fu.refresh_from_db()
    assert (fu.status, fu.attempts) == ("due", 0)
    # A full interval after it was due: one missed attempt, retried 24 h later.
    counts = actions.run_clocks(T0 + dt.timedelta(hours=48))
    fu.refresh_from_db()
    assert counts["follow_ups_missed"] == 1 and (fu.status, fu.attempts) == ("missed", 1)
    assert fu.due_at == T0 + dt.timedelta(hours=48)
    assert actions.run_clocks(T0 + dt.timedelta(hours=49))["follow_ups_missed"] == 0
    # Second miss (default: 2 retries), then lost at the third.
    actions.run_clocks(T0 + dt.timedelta(hours=72))
    fu.refresh_from_db()
    assert (fu.status, fu.attempts) == ("missed", 2)
    counts = actions.run_clocks(T0 + dt.timedelta(hours=96))
    fu.refresh_from_db()
    assert counts["follow_ups_lost"] == 1 and (fu.status, fu.attempts) == ("lost", 3)
    lost_key = f"aftercare:fu:{fu.pk}:lost"
    for name in ("zhang", "li", "zhao", "liu"):  # nurse, 主诊, 授权专员, 医务科
        assert lost_key in _keys(users[name]), name
    assert lost_key not in _keys(users["wang"])  # admins only when there are no officers
    assert actions.run_clocks(T0 + dt.timedelta(hours=200))["follow_ups_lost"] == 0
    assert Notification.objects.filter(dedupe_key=lost_key).count() == 4
    # One entry per run that changed something: misses at 48 h and 72 h, lost at 96 h, and at 200 h the
    # 1-week contact's own first miss.
    assert AuditEntry.objects.filter(action="aftercare.followup.clock").count() == 4


def test_a_scheduler_that_was_down_catches_up_in_one_run(clin, clock):
    case = treat(clin, TOXIN)
    fu = FollowUp.objects.get(case=case, offset="24h")
    actions.run_clocks(T0 + dt.timedelta(days=10))
    fu.refresh_from_db()
    assert (fu.status, fu.attempts) == ("lost", 3)


def test_recording_a_contact_stops_its_clock(clin, clock):
    case = treat(clin, TOXIN)
    fu = FollowUp.objects.get(case=case, offset="24h")
    clock.set(T0 + dt.timedelta(hours=25))
    actions.record_follow_up(
        clin.actor("zhang"), fu.pk, reached=True, recovery="good", satisfaction=5, notes="无不适"
    )
    actions.run_clocks(T0 + dt.timedelta(days=5))
    fu.refresh_from_db()
    assert (fu.status, fu.attempts, fu.satisfaction) == ("done", 0, 5)


def test_a_contact_not_reached_is_retried_after_the_policy_interval_then_lost(clin, clock):
    case = treat(clin, TOXIN)
    fu = FollowUp.objects.get(case=case, offset="24h")
    at = clock.set(T0 + dt.timedelta(hours=24))
    fu = actions.record_follow_up(clin.actor("zhang"), fu.pk, reached=False)
    assert (fu.status, fu.attempts, fu.due_at) == ("missed", 1, at + dt.timedelta(hours=24))
    actions.record_follow_up(clin.actor("zhang"), fu.pk, reached=False)
    fu = actions.record_follow_up(clin.actor("zhang"), fu.pk, reached=False)
    assert (fu.status, fu.attempts) == ("lost", 3)
    assert Notification.objects.filter(dedupe_key=f"aftercare:fu:{fu.pk}:lost").exists()


# ---- reactions ----------------------------------------------------------------------------------


def _report(clin, case, grade: str) -> AdverseReaction:
    return actions.report_reaction(
        clin.actor("zhang"), case_id=case.pk, grade=grade, description="注射部位红肿"
    )


def test_moderate_two_hours_warned_at_90_minutes_escalated_at_2_hours_once_each(clin, clock, liu):
    case = treat(clin, TOXIN)
    users = clin.world.users
    rx = _report(clin, case, "moderate")
    assert rx.assignee_id == clin.clinic.li.pk and rx.due_at == T0 + dt.timedelta(hours=2)
    reported = f"aftercare:rx:{rx.pk}:reported"
    assert _keys(users["li"]) == [reported] and _keys(users["zhang"]) == []  # the 主诊's clock
    assert actions.run_clocks(T0 + dt.timedelta(minutes=89))["reactions_warned"] == 0
    assert actions.run_clocks(T0 + dt.timedelta(minutes=90))["reactions_warned"] == 1
    assert actions.run_clocks(T0 + dt.timedelta(minutes=100))["reactions_warned"] == 0
    warn = f"aftercare:rx:{rx.pk}:warn"
    assert warn in _keys(users["li"])
    assert warn not in _keys(users["liu"]) and warn not in _keys(users["zhao"])
    assert actions.run_clocks(T0 + dt.timedelta(minutes=119))["reactions_escalated"] == 0
    assert actions.run_clocks(T0 + dt.timedelta(hours=2))["reactions_escalated"] == 1
    assert actions.run_clocks(T0 + dt.timedelta(hours=3))["reactions_escalated"] == 0
    breach = f"aftercare:rx:{rx.pk}:breach"
    for name in ("li", "liu", "zhao"):  # 主诊, 医务科, 授权专员
        assert breach in _keys(users[name]), name
    assert Notification.objects.filter(dedupe_key=breach).count() == 3
    assert Notification.objects.filter(dedupe_key=warn).count() == 1
    rx.refresh_from_db()
    assert rx.clock_state(T0 + dt.timedelta(hours=3)) == "overdue"


def test_moderate_handled_in_time_is_not_escalated(clin, clock, liu):
    case = treat(clin, TOXIN)
    rx = _report(clin, case, "moderate")
    clock.advance(minutes=75)
    actions.record_step(clin.actor("li"), rx.pk, kind="revisit", note="复诊:感染倾向,已处理")
    rx.refresh_from_db()
    assert rx.handled_at == T0 + dt.timedelta(minutes=75)
    assert rx.clock_state(T0 + dt.timedelta(hours=5)) == "on_time"
    assert actions.run_clocks(T0 + dt.timedelta(hours=5)) == {
        "follow_ups_due": 0,
        "follow_ups_missed": 0,
        "follow_ups_lost": 0,
        "reactions_warned": 0,
        "reactions_escalated": 0,
        "reports_warned": 0,
        "reports_overdue": 0,
    }
    assert not Notification.objects.filter(dedupe_key__endswith=":breach").exists()


def test_a_nurse_cannot_record_the_doctors_revisit(clin, clock):
    from meiguard.core.errors import ActionError

    case = treat(clin, TOXIN)
    rx = _report(clin, case, "moderate")
    with pytest.raises(ActionError) as exc:
        actions.record_step(clin.actor("zhang"), rx.pk, kind="revisit")
    assert exc.value.code == "STEP_NEEDS_DOCTOR"


def test_mild_48_hours_with_the_nurse(clin, clock, liu):
    case = treat(clin, TOXIN)
    users = clin.world.users
    rx = _report(clin, case, "mild")
    assert rx.assignee_id == clin.nurse.pk and rx.due_at == T0 + dt.timedelta(hours=48)
    clock.advance(hours=1)
    actions.record_step(clin.actor("zhang"), rx.pk, kind="guidance", note="冷敷,居家观察")
    assert actions.run_clocks(T0 + dt.timedelta(hours=43, minutes=59))["reactions_warned"] == 0
    assert actions.run_clocks(T0 + dt.timedelta(hours=44))["reactions_warned"] == 1
    assert actions.run_clocks(T0 + dt.timedelta(hours=48))["reactions_escalated"] == 1
    assert actions.run_clocks(T0 + dt.timedelta(hours=49))["reactions_escalated"] == 0
    for name in ("zhang", "li", "liu", "zhao"):
        assert f"aftercare:rx:{rx.pk}:breach" in _keys(users[name]), name
    # Resolved late: the clock stops, late.
    clock.set(T0 + dt.timedelta(hours=50))
    actions.record_step(clin.actor("zhang"), rx.pk, kind="resolved")
    rx.refresh_from_db()
    assert rx.status == "resolved" and rx.clock_state(T0 + dt.timedelta(hours=60)) == "late"


def test_severe_alerts_at_once_and_escalates_after_30_minutes(clin, clock, liu):
    case = treat(clin, TOXIN)
    users = clin.world.users
    rx = _report(clin, case, "severe")
    reported = f"aftercare:rx:{rx.pk}:reported"
    for name in ("li", "liu", "zhao"):  # 主诊, 医务科, 授权专员 at once
        assert reported in _keys(users[name]), name
    n = Notification.objects.filter(recipient=users["liu"], dedupe_key=reported).get()
    assert "多学科会诊" in n.title and "工作计划" in n.body
    with translation.override("en"):  # rendered in the reader's language, the steps joined as English joins
        assert n.display_title.startswith("Severe adverse reaction")
        assert "MDT" in n.display_body and "、" not in n.display_body
    assert actions.run_clocks(T0 + dt.timedelta(minutes=10))["reactions_warned"] == 0  # alert was the warning
    clock.advance(minutes=10)
    actions.record_step(clin.actor("li"), rx.pk, kind="emergency")
    assert actions.run_clocks(T0 + dt.timedelta(minutes=30))["reactions_escalated"] == 1  # MDT missing
    breach = f"aftercare:rx:{rx.pk}:breach"
    assert breach in _keys(users["liu"])
    clock.advance(minutes=25)
    actions.record_step(clin.actor("li"), rx.pk, kind="mdt")
    rx.refresh_from_db()
    assert rx.handled_at == T0 + dt.timedelta(minutes=35)
    assert rx.clock_state(timezone.now()) == "late"


def test_severe_handled_at_once_is_on_time(clin, clock, liu):
    case = treat(clin, TOXIN)
    rx = _report(clin, case, "severe")
    clock.advance(minutes=5)
    actions.record_step(clin.actor("li"), rx.pk, kind="emergency")
    actions.record_step(clin.actor("li"), rx.pk, kind="mdt")
    assert actions.run_clocks(T0 + dt.timedelta(hours=1))["reactions_escalated"] == 0
    rx.refresh_from_db()
    assert rx.clock_state(T0 + dt.timedelta(hours=1)) == "on_time"


def test_a_reaction_found_at_a_follow_up_is_reported_with_the_case_lots(clin, clock):
    case = treat(clin, TOXIN)
    fu = FollowUp.objects.get(case=case, offset="24h")
    clock.set(T0 + dt.timedelta(hours=24))
    actions.record_follow_up(
        clin.actor("zhang"),
        fu.pk,
        reached=True,
        recovery="slow",
        adverse_signs=True,
        satisfaction=3,
        reaction_grade="moderate",
        reaction_description="局部红肿加重,感染倾向",
    )
    rx = AdverseReaction.objects.get(case=case)
    assert (rx.source, rx.follow_up_id, rx.grade) == ("follow_up", fu.pk, "moderate")
    assert list(rx.lots.values_list("pk", flat=True)) == [clin.clinic.lot.pk]


def test_the_job_queries_do_not_grow_with_the_rows(clin, clock, liu, django_assert_num_queries):
    # Three reactions on the clinic's lot also make a cluster incident (drug: report at once), so the incident
    # report clock ticks with rows too.
    cases = [treat(clin, TOXIN) for _ in range(3)]
    for case in cases:
        _report(clin, case, "moderate")
    assert Incident.objects.filter(is_cluster=True).count() == 1
    at = T0 + dt.timedelta(days=2)  # every 24 h contact missed, every reaction and report clock breached

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            actions.run_clocks(at)
        return len(ctx.captured_queries)

    small = count()
    FollowUp.objects.update(status="due", attempts=0)
    AdverseReaction.objects.update(breached_at=None, warned_at=None)
    Notification.objects.filter(dedupe_key__startswith="aftercare:").delete()
    for case in [treat(clin, TOXIN) for _ in range(4)]:
        _report(clin, case, "moderate")
    for n in range(4):  # more incidents with running-out report clocks
        Incident.objects.create(
            institution=clin.clinic.jia,
            kind="quality_event",
            grade="III",
            severity="major",
            title=f"差错 {n}",
            description="-",
            discovered_at=T0,
            reporter_name="test",
            reported_at=T0,
            report_clock="quality-major",
            report_due_at=T0 + dt.timedelta(hours=12),
            report_warn_at=T0 + dt.timedelta(hours=9),
        )
    FollowUp.objects.update(status="due", attempts=0)
    Incident.objects.update(report_breached_at=None, report_warned_at=None)
    Notification.objects.filter(dedupe_key__startswith="incident:").delete()
    with django_assert_num_queries(small):
        actions.run_clocks(at)
    assert small <= 40


def test_the_scheduler_job_and_the_cron_command_run_the_clocks(clin, clock):
    from io import StringIO

    from django.core.management import call_command

    from meiguard.lifecycle import actions as lifecycle
    from meiguard.lifecycle.models import JobRun

    case = treat(clin, TOXIN)
    fu = FollowUp.objects.get(case=case, offset="24h")
    clock.set(T0 + dt.timedelta(hours=48))
    counts = lifecycle.run_job("aftercare_clocks", clock.now.date().isoformat())
    fu.refresh_from_db()
    assert counts["follow_ups_missed"] == 1 and fu.status == "missed"
    assert JobRun.objects.get(job="aftercare_clocks").status == "succeeded"
    clock.set(T0 + dt.timedelta(hours=72))
    out = StringIO()
    call_command("aftercare_tick", stdout=out)
    fu.refresh_from_db()
    assert "follow_ups_missed=1" in out.getvalue() and fu.attempts == 2
