"""Reminders for due, incomplete surgical checklist nodes (once per case and node), and the monthly coverage
report (share of surgical cases with all three nodes complete, target 100 %)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.clinical import actions, policy, queries
from meiguard.lifecycle import actions as lifecycle
from meiguard.lifecycle.models import JobRun
from meiguard.notify.models import Notification

from .conftest import BREAST, TOXIN

pytestmark = pytest.mark.django_db
NODE1, NODE2, NODE3 = policy.NODES


def _keys(user) -> list[str]:
    return sorted(Notification.objects.filter(recipient=user).values_list("dedupe_key", flat=True))


def _opened(clin, hours_ago: float):
    case = clin.ready(BREAST)  # node 1 complete
    actions.open_record(clin.actor("zhou"), case.pk, at=timezone.now() - dt.timedelta(hours=hours_ago))
    return case


def test_nodes_2_and_3_become_due_as_the_record_stays_open(clin):
    case = _opened(clin, hours_ago=0.25)
    assert actions.remind_due_checklists() == 0  # 15 minutes in: nothing due yet
    now = timezone.now()
    sent = actions.remind_due_checklists(now + dt.timedelta(minutes=20))  # 35 min: node 2 due
    users = clin.world.users
    staff = [users["zhou"], users["ma"], users["zhang"]]
    assert sent == 4  # surgeon, anaesthetist, nurse and the compliance officer
    for u in [*staff, users["zhao"]]:
        assert _keys(u) == [f"clinical:checklist:{case.pk}:{NODE2}"]
    assert _keys(users["li"]) == [] and _keys(users["sun"]) == []
    n = Notification.objects.filter(recipient=users["zhao"]).get()
    assert case.code in n.title and "手术开始前" in n.title
    # Later, still not done: node 3 is due too; node 2 is not sent again.
    assert actions.remind_due_checklists(now + dt.timedelta(hours=5)) == 4
    assert actions.remind_due_checklists(now + dt.timedelta(hours=6)) == 0
    assert _keys(users["zhao"]) == [
        f"clinical:checklist:{case.pk}:{NODE2}",
        f"clinical:checklist:{case.pk}:{NODE3}",
    ]
    assert AuditEntry.objects.filter(action="clinical.checklistnode.reminded").count() == 2


def test_a_completed_node_is_not_reminded(clin):
    case = _opened(clin, hours_ago=5)
    clin.node(case, NODE2)
    clin.node(case, NODE3)
    assert actions.remind_due_checklists() == 0
    assert not Notification.objects.filter(dedupe_key__startswith="clinical:checklist:").exists()


def test_a_started_node_1_with_a_party_missing_is_due_after_an_hour(clin):
    case = clin.case(BREAST)
    clin.consult(case)
    clin.consent(case)
    clin.assess(case)
    clin.review(case)
    items = dict.fromkeys(policy.node_item_ids(NODE1), True)
    actions.sign_checklist_node(
        clin.actor("zhou"), case.pk, node=NODE1, party="surgeon", items=items, scanned=[case.code]
    )
    assert actions.remind_due_checklists() == 0
    assert actions.remind_due_checklists(timezone.now() + dt.timedelta(minutes=61)) == 4
    assert _keys(clin.world.users["ma"]) == [f"clinical:checklist:{case.pk}:{NODE1}"]


def test_non_surgical_cases_are_never_reminded(clin):
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk, at=timezone.now() - dt.timedelta(hours=8))
    assert actions.remind_due_checklists() == 0


def test_the_daily_job_runs_the_reminders_and_is_recorded(clin, django_capture_on_commit_callbacks):
    case = _opened(clin, hours_ago=5)
    today = timezone.localdate().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        counts = lifecycle.run_job("remind_due_checklists", today)
    assert counts == {"notified": 8}  # nodes 2 and 3, four people each
    assert JobRun.objects.get(job="remind_due_checklists").status == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        assert lifecycle.run_job("remind_due_checklists", today) == {"notified": 0}
    assert Notification.objects.filter(dedupe_key=f"clinical:checklist:{case.pk}:{NODE3}").count() == 4


def test_monthly_coverage(clin):
    month = timezone.localdate().replace(day=1)
    full = _opened(clin, hours_ago=1)
    clin.node(full, NODE2)
    clin.node(full, NODE3)
    _opened(clin, hours_ago=1)  # only node 1
    today = timezone.localdate()
    rows = queries.checklist_coverage_by_month(clin.actor("zhao"), clin.clinic.jia.pk, start=month, end=today)
    assert [(r.month, r.surgical_cases, r.all_nodes_complete, r.share) for r in rows] == [
        (f"{month:%Y-%m}", 2, 1, 50.0)
    ]
    zhao = clin.world.client("zhao")
    base = f"/api/v1/clinical/institutions/{clin.clinic.jia.pk}/checklist-coverage/monthly"
    prev = (month - dt.timedelta(days=1)).replace(day=1)
    got = zhao.get(base, {"start": prev.isoformat(), "end": timezone.localdate().isoformat()}).json()
    assert got["target"] == 100
    assert got["months"] == [
        {"month": f"{prev:%Y-%m}", "surgical_cases": 0, "all_nodes_complete": 0, "share": None,
         "target": 100, "met": None},
        {"month": f"{month:%Y-%m}", "surgical_cases": 2, "all_nodes_complete": 1, "share": 50.0,
         "target": 100, "met": False},
    ]  # fmt: skip
    r = zhao.get(base, {"start": "2026-05-01", "end": "2026-04-01"})
    assert r.status_code == 422 and r.json()["field"] == "end"
    r = zhao.get(base, {"start": "2020-01-01", "end": "2026-04-01"})
    assert r.status_code == 422 and r.json()["field"] == "end"
    assert clin.world.client("sun").get(base, {"start": "2026-01-01", "end": "2026-01-31"}).status_code == 404


def test_a_planned_operation_without_node_1_is_reminded_when_its_time_comes(clin):
    case = clin.case(BREAST)
    planned = timezone.now() + dt.timedelta(hours=2)
    case.scheduled_at = planned
    case.save(update_fields=["scheduled_at"])
    assert actions.remind_due_checklists(planned - dt.timedelta(minutes=1)) == 0  # not yet its time
    assert actions.remind_due_checklists(planned + dt.timedelta(minutes=1)) == 4
    assert _keys(clin.world.users["zhao"]) == [f"clinical:checklist:{case.pk}:{NODE1}"]
    assert actions.remind_due_checklists(planned + dt.timedelta(hours=1)) == 0  # once


def test_a_planned_operation_with_node_1_done_or_not_surgical_is_not_reminded(clin):
    planned = timezone.now() - dt.timedelta(minutes=5)
    done = clin.case(BREAST)
    clin.node(done, NODE1)
    toxin = clin.case(TOXIN)
    for case in (done, toxin):
        case.scheduled_at = planned
        case.save(update_fields=["scheduled_at"])
    assert actions.remind_due_checklists() == 0


def test_the_planned_time_is_taken_at_creation_and_bounded(clin):
    from meiguard.core.errors import FieldErrors

    when = timezone.now() + dt.timedelta(days=1)
    case = actions.create_case(
        clin.actor("zhao"),
        client_id=clin.client.pk,
        procedure_code=BREAST,
        operator_id=clin.surgeon.pk,
        anesthetist_id=clin.anesthetist.pk,
        scheduled_at=when,
    )
    assert case.scheduled_at == when
    with pytest.raises(FieldErrors) as exc:
        actions.create_case(
            clin.actor("zhao"),
            client_id=clin.client.pk,
            procedure_code=BREAST,
            operator_id=clin.surgeon.pk,
            anesthetist_id=clin.anesthetist.pk,
            scheduled_at=timezone.now() - dt.timedelta(days=3),
        )
    assert "scheduled_at" in exc.value.errors
