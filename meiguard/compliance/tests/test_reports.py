"""Generating and keeping reports: the job on the 1st only and once, versions kept, rectifications raised once,
notified once, closed with a note (atomic, audited), overdue items shown red on the next month's report."""

from __future__ import annotations

import datetime as dt

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.compliance import actions
from meiguard.compliance.models import MonthlyReport, Rectification
from meiguard.core.errors import ActionError
from meiguard.lifecycle import actions as lifecycle
from meiguard.lifecycle.models import JobRun
from meiguard.notify.models import Notification
from meiguard.registry.models import Institution

from .conftest import BREAST, NOV, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def november(clin, clock, liu):
    """A surgical case in November with only two of three checklist nodes: coverage 0 % (off target)."""
    clock.set(local(2026, 11, 12, 9))
    case = clin.ready(BREAST)
    from meiguard.clinical import actions as clinical

    clinical.open_record(clin.actor("zhou"), case.pk)
    clin.node(case, "before_incision")
    return case


def test_the_job_runs_on_the_first_only_and_once_per_institution_month(clin, clock, november):
    assert actions.generate_monthly(dt.date(2026, 12, 2)) == {"not_first_of_month": 1}
    assert MonthlyReport.objects.count() == 0
    clock.set(local(2026, 12, 1, 1))
    counts = lifecycle.run_job("monthly_compliance_report", "2026-12-01")
    institutions = Institution.objects.count()
    assert counts == {"reports": institutions, "already_generated": 0}
    assert JobRun.objects.get(job="monthly_compliance_report").status == "succeeded"
    jia = MonthlyReport.objects.get(institution=clin.clinic.jia)
    assert (jia.month, jia.version, jia.trigger) == (NOV, 1, "scheduled")
    # A second run (forced or a second scheduler) adds nothing.
    assert actions.generate_monthly(dt.date(2026, 12, 1)) == {"reports": 0, "already_generated": institutions}
    assert MonthlyReport.objects.count() == institutions


def test_a_figure_off_target_raises_one_rectification_and_tells_its_owner_once(clin, clock, november, liu):
    clock.set(local(2026, 12, 1, 1))
    actions.generate_monthly(dt.date(2026, 12, 1))
    item = Rectification.objects.get(institution=clin.clinic.jia)
    assert item.figure_code == "checklist_coverage"
    assert item.owner_role == "medical_director"
    assert item.due_on == dt.date(2026, 12, 31)  # report date + 30 days (institution policy default)
    assert "手术安全核查覆盖率" in item.warning and "0.0%" in item.warning and "≥ 100%" in item.warning
    assert "工作计划" in item.source and "一(二)3" in item.source
    notes = Notification.objects.filter(message_code="compliance.rectification_raised")
    assert [n.recipient_id for n in notes] == [liu.pk]  # the 医务科 of 甲
    # Regenerating on demand: a new version, the old kept, no second item, no second notice.
    clock.set(local(2026, 12, 2, 9))
    v2 = actions.generate_report(clin.actor("zhao"), clin.clinic.jia.pk, NOV)
    assert v2.version == 2 and v2.trigger == "on_demand"
    assert MonthlyReport.objects.filter(institution=clin.clinic.jia, month=NOV).count() == 2
    assert Rectification.objects.filter(institution=clin.clinic.jia).count() == 1
    assert notes.count() == 1
    assert AuditEntry.objects.filter(action="compliance.monthlyreport.generated").count() >= 2
    assert AuditEntry.objects.filter(action="compliance.rectification.raised").count() == 1


def test_closing_a_rectification_needs_a_note_and_happens_once(clin, clock, november, world):
    clock.set(local(2026, 12, 1, 1))
    actions.generate_monthly(dt.date(2026, 12, 1))
    item = Rectification.objects.get(institution=clin.clinic.jia)
    with pytest.raises(ActionError) as e:
        actions.close_rectification(clin.actor("zhao"), item.pk, note="  ")
    assert e.value.code == "NOTE_REQUIRED"
    with pytest.raises(ActionError) as e:
        actions.close_rectification(world.actor("qian"), item.pk, note="看过")
    assert e.value.status == 403  # the association reads, the institution rectifies
    from django.http import Http404

    with pytest.raises(Http404):
        actions.close_rectification(world.actor("sun"), item.pk, note="x")
    closed = actions.close_rectification(clin.actor("zhao"), item.pk, note="补签核查并培训")
    assert closed.status == "closed" and closed.closing_note == "补签核查并培训"
    entry = AuditEntry.objects.get(action="compliance.rectification.closed")
    assert entry.reason == "补签核查并培训"
    with pytest.raises(ActionError) as e:
        actions.close_rectification(clin.actor("zhao"), item.pk, note="again")
    assert e.value.code == "ALREADY_CLOSED" and e.value.status == 409


def test_only_a_finished_month_and_only_own_institutions(clin, clock, world):
    clock.set(local(2026, 12, 2, 9))
    with pytest.raises(ActionError) as e:
        actions.generate_report(clin.actor("zhao"), clin.clinic.jia.pk, dt.date(2026, 12, 1))
    assert e.value.code == "MONTH_NOT_OVER"
    from meiguard.core.apierrors import NotFoundField

    with pytest.raises(NotFoundField):
        actions.generate_report(world.actor("sun"), clin.clinic.jia.pk, NOV)
    with pytest.raises(ActionError) as e:
        actions.generate_report(world.actor("qian"), clin.clinic.jia.pk, NOV)
    assert e.value.status == 403
    with pytest.raises(NotFoundField):
        actions.generate_report(world.actor("li"), clin.clinic.jia.pk, NOV)  # a doctor has no report role


def test_an_open_item_past_its_deadline_shows_red_on_the_next_report(clin, clock, november):
    clock.set(local(2026, 12, 1, 1))
    actions.generate_monthly(dt.date(2026, 12, 1))
    nov = MonthlyReport.objects.get(institution=clin.clinic.jia, month=NOV)
    clock.set(local(2026, 12, 20, 9))  # before the deadline (31 December): listed, not red
    page = clin.world.client("zhao").get(f"/compliance/reports/{nov.pk}/").content.decode()
    assert "逾期未整改" not in page and 'data-rectification="checklist_coverage"' in page
    clock.set(local(2027, 1, 1, 1))
    actions.generate_monthly(dt.date(2027, 1, 1))
    december = MonthlyReport.objects.get(institution=clin.clinic.jia, month=dt.date(2026, 12, 1))
    page = clin.world.client("zhao").get(f"/compliance/reports/{december.pk}/").content.decode()
    assert "逾期未整改" in page and '<li class="overdue">2026-11' in page
    item = Rectification.objects.get(institution=clin.clinic.jia, month=NOV)
    actions.close_rectification(clin.actor("zhao"), item.pk, note="已整改")
    page = clin.world.client("zhao").get(f"/compliance/reports/{december.pk}/").content.decode()
    assert "逾期未整改" not in page


def test_an_institution_sets_its_own_targets_and_rectification_days(clin, clock, november):
    from meiguard.authz import snapshot
    from meiguard.rules import institution

    zhao = clin.actor("zhao")
    clock.set(local(2026, 10, 30, 9))
    draft = institution.save_draft(
        zhao, clin.clinic.jia.pk, values={"loss_to_follow_up_max": 60, "rectification_days": 10}
    )
    institution.publish(zhao, clin.clinic.jia.pk, draft.version, effective_from=dt.date(2026, 11, 1))
    snapshot.clear()
    clock.set(local(2026, 12, 1, 1))
    actions.generate_monthly(dt.date(2026, 12, 1))
    report = MonthlyReport.objects.get(institution=clin.clinic.jia, month=NOV)
    loss = next(r for r in report.figures if r["code"] == "loss_to_follow_up")
    assert loss["target"]["value"] == 60 and loss["target"]["policy"] is True
    item = Rectification.objects.get(institution=clin.clinic.jia, figure_code="checklist_coverage")
    assert item.due_on == dt.date(2026, 12, 11)  # the institution's 10 days, not the default 30
    other = MonthlyReport.objects.get(institution=clin.clinic.yi, month=NOV)
    assert next(r for r in other.figures if r["code"] == "loss_to_follow_up")["target"]["value"] == 5
