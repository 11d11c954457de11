"""Every regulatory report clock with a controlled clock: device AE 7 d / 20 d / cluster 12 h; drug ADR at once
(30 min) / 15 d / 30 d / cluster at once; quality-safety events 2 h / 12 h / 15 d. 医务科 and 授权专员 are told
before (75 % elapsed) and at the deadline, once each (the tick runs twice); a hazard has no clock; submitting
stops the clock."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.aftercare import actions, incidents
from meiguard.aftercare.models import Incident
from meiguard.audit.models import AuditEntry
from meiguard.core.choices import Role
from meiguard.core.models import Membership
from meiguard.notify.models import Notification

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db

CLOCKS = [
    ("device_ae", "death", dt.timedelta(days=7), "device-death"),
    ("device_ae", "serious", dt.timedelta(days=20), "device-serious"),
    ("drug_adr", "death", dt.timedelta(minutes=30), "drug-death"),
    ("drug_adr", "serious_new", dt.timedelta(days=15), "drug-serious"),
    ("drug_adr", "other", dt.timedelta(days=30), "drug-other"),
    ("quality_event", "extra_major", dt.timedelta(hours=2), "quality-extra-major"),
    ("quality_event", "major", dt.timedelta(hours=12), "quality-major"),
    ("quality_event", "general", dt.timedelta(days=15), "quality-general"),
]


def _keys(user) -> list[str]:
    return sorted(
        Notification.objects.filter(recipient=user, dedupe_key__startswith="incident:").values_list(
            "dedupe_key", flat=True
        )
    )


def report(clin, who: str = "zhang", **kw) -> Incident:
    data = {
        "institution_id": clin.clinic.jia.pk,
        "kind": "device_ae",
        "grade": "II",
        "severity": "serious",
        "title": "注射后局部坏死",
        "description": "发现后立即处理",
        "discovered_at": T0,
    }
    data.update(kw)
    return incidents.report_incident(clin.actor(who), **data)


@pytest.mark.parametrize(("kind", "severity", "within", "clock_id"), CLOCKS)
def test_each_clock_warns_then_escalates_once_to_the_officers(
    clin, clock, liu, kind, severity, within, clock_id
):
    users = clin.world.users
    incident = report(clin, kind=kind, severity=severity, discovered_at=T0 - dt.timedelta(minutes=1))
    assert incident.report_clock == clock_id
    assert incident.report_due_at == incident.discovered_at + within
    start = incident.discovered_at
    reported = f"incident:{incident.pk}:reported"
    assert _keys(users["zhao"]) == [reported] and _keys(users["liu"]) == [reported]
    # before 75 % of the clock: nothing
    assert actions.run_clocks(start + within * 0.74)["reports_warned"] == 0
    counts = actions.run_clocks(start + within * 0.76)
    assert counts["reports_warned"] == 1 and counts["reports_overdue"] == 0
    assert actions.run_clocks(start + within * 0.77)["reports_warned"] == 0  # once
    warn = f"incident:{incident.pk}:{clock_id}:warning"
    for name in ("zhao", "liu"):  # 授权专员 and 医务科
        assert _keys(users[name]) == sorted([reported, warn]), name
    for name in ("wang", "li", "zhang"):  # admins only when there are no officers; not the reporter
        assert warn not in _keys(users[name]), name
    assert actions.run_clocks(start + within - dt.timedelta(seconds=1))["reports_overdue"] == 0
    assert actions.run_clocks(start + within)["reports_overdue"] == 1
    assert actions.run_clocks(start + within + dt.timedelta(hours=1))["reports_overdue"] == 0  # once
    breach = f"incident:{incident.pk}:{clock_id}:breach"
    for name in ("zhao", "liu"):
        assert _keys(users[name]) == sorted([reported, warn, breach]), name
    assert Notification.objects.filter(dedupe_key=breach).count() == 2
    incident.refresh_from_db()
    assert incident.report_state(start + within) == "overdue"
    assert AuditEntry.objects.filter(action="aftercare.incident.report_overdue").count() == 1


def test_the_admins_are_told_when_the_institution_has_no_officers(clin, clock):
    users = clin.world.users
    Membership.objects.filter(user=users["zhao"], role=Role.COMPLIANCE_OFFICER).update(is_active=False)
    incident = report(clin, kind="quality_event", severity="major")
    actions.run_clocks(T0 + dt.timedelta(hours=12))
    assert f"incident:{incident.pk}:quality-major:breach" in _keys(users["wang"])


def test_a_breach_without_a_warning_run_sends_only_the_breach(clin, clock, liu):
    incident = report(clin, kind="drug_adr", severity="death")
    counts = actions.run_clocks(T0 + dt.timedelta(hours=3))  # the scheduler was down
    assert counts == {**counts, "reports_warned": 0, "reports_overdue": 1}
    assert not Notification.objects.filter(dedupe_key__endswith=":warning").exists()
    incident.refresh_from_db()
    assert incident.report_breached_at is not None


def test_submitting_stops_the_clock_on_time_or_late(clin, clock, liu):
    zhao = clin.actor("zhao")
    on_time = report(clin, kind="quality_event", severity="general")
    late = report(clin, kind="quality_event", severity="major")
    clock.set(T0 + dt.timedelta(hours=13))
    incidents.submit_report(zhao, on_time.pk, submitted_at=clock.now, channel="online", reference="Q-1")
    incidents.submit_report(zhao, late.pk, submitted_at=clock.now, channel="online", reference="Q-2")
    on_time.refresh_from_db()
    late.refresh_from_db()
    assert on_time.report_state(clock.now) == "on_time" and late.report_state(clock.now) == "late"
    assert actions.run_clocks(T0 + dt.timedelta(days=20))["reports_overdue"] == 0  # stopped
    assert not Notification.objects.filter(dedupe_key__startswith=f"incident:{on_time.pk}:quality").exists()


def test_a_hazard_has_no_regulatory_report(clin, clock, liu):
    hazard = report(clin, kind="hazard", grade="IV", severity="")
    assert hazard.report_clock == "" and hazard.report_due_at is None
    assert hazard.report_state(T0) == "none"
    assert actions.run_clocks(T0 + dt.timedelta(days=60))["reports_overdue"] == 0
    assert Notification.objects.filter(dedupe_key=f"incident:{hazard.pk}:reported").count() == 2


def test_regrading_recomputes_the_clock_from_discovery(clin, clock, liu):
    incident = report(clin, kind="device_ae", severity="serious")
    incidents.grade_incident(clin.actor("liu"), incident.pk, grade="I", severity="death")
    incident.refresh_from_db()
    assert incident.report_clock == "device-death"
    assert incident.report_due_at == T0 + dt.timedelta(days=7)


# ---- clusters -----------------------------------------------------------------------------------


def test_three_reactions_on_one_lot_make_a_drug_cluster_reported_at_once(clin, clock, liu):
    from meiguard.aftercare.actions import report_reaction

    users = clin.world.users
    rxs = []
    for n in range(3):
        case = treat(clin, TOXIN)
        clock.set(T0 + dt.timedelta(hours=n))
        rxs.append(
            report_reaction(clin.actor("li"), case_id=case.pk, grade="moderate", description=f"红肿 {n}")
        )
        if n < 2:
            assert not Incident.objects.filter(is_cluster=True).exists()
    cluster = Incident.objects.get(is_cluster=True)
    assert cluster.kind == "drug_adr" and cluster.report_clock == "drug-cluster"
    assert cluster.lot_id == clin.clinic.lot.pk and cluster.discovered_at == T0 + dt.timedelta(hours=2)
    assert cluster.report_due_at == cluster.discovered_at + dt.timedelta(minutes=30)
    assert sorted(cluster.cluster_reactions.values_list("pk", flat=True)) == sorted(r.pk for r in rxs)
    key = f"incident:{cluster.pk}:cluster"
    assert key in _keys(users["zhao"]) and key in _keys(users["liu"])
    # a fourth reaction joins the open cluster: no second cluster, no second notice
    case = treat(clin, TOXIN)
    rx4 = report_reaction(clin.actor("li"), case_id=case.pk, grade="mild", description="红肿 4")
    assert Incident.objects.filter(is_cluster=True).count() == 1
    assert rx4.pk in set(cluster.cluster_reactions.values_list("pk", flat=True))
    assert Notification.objects.filter(dedupe_key=key).count() == 2
    actions.run_clocks(cluster.discovered_at + dt.timedelta(minutes=30))
    actions.run_clocks(cluster.discovered_at + dt.timedelta(minutes=31))
    assert Notification.objects.filter(dedupe_key=f"incident:{cluster.pk}:drug-cluster:breach").count() == 2


def test_device_events_on_one_product_start_the_12_hour_cluster_clock(clin, clock, liu):
    users = clin.world.users
    device = clin.clinic.device
    members = [
        report(clin, kind="device_ae", severity="serious", device_id=device.pk, title=f"灼伤 {n}")
        for n in range(3)
    ]
    cluster = Incident.objects.get(is_cluster=True)
    assert cluster.kind == "device_ae" and cluster.report_clock == "device-cluster"
    assert cluster.product_id == clin.clinic.rf.pk and cluster.lot_id is None
    assert cluster.report_due_at == cluster.discovered_at + dt.timedelta(hours=12)
    assert sorted(cluster.members.values_list("pk", flat=True)) == sorted(m.pk for m in members)
    start = cluster.discovered_at
    assert actions.run_clocks(start + dt.timedelta(hours=8))["reports_warned"] == 0
    actions.run_clocks(start + dt.timedelta(hours=9, minutes=1))
    actions.run_clocks(start + dt.timedelta(hours=10))
    actions.run_clocks(start + dt.timedelta(hours=12))
    actions.run_clocks(start + dt.timedelta(hours=13))
    for name in ("zhao", "liu"):
        keys = _keys(users[name])
        assert f"incident:{cluster.pk}:device-cluster:warning" in keys
        assert f"incident:{cluster.pk}:device-cluster:breach" in keys
    assert Notification.objects.filter(dedupe_key=f"incident:{cluster.pk}:device-cluster:breach").count() == 2


def test_events_outside_the_window_do_not_make_a_cluster(clin, clock, liu):
    device = clin.clinic.device
    report(clin, device_id=device.pk, discovered_at=T0 - dt.timedelta(hours=100))
    report(clin, device_id=device.pk)
    report(clin, device_id=device.pk)
    assert not Incident.objects.filter(is_cluster=True).exists()


def test_the_cluster_threshold_is_an_institution_setting(clin, clock, liu, monkeypatch):
    monkeypatch.setattr(incidents, "cluster_settings", lambda inst, at: (2, 72))
    device = clin.clinic.device
    report(clin, device_id=device.pk)
    report(clin, device_id=device.pk)
    assert Incident.objects.filter(is_cluster=True).count() == 1
