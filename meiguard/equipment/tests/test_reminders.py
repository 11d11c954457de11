"""The daily job reminds the device keepers (采购, 机构管理员) once before a due date and once when overdue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from meiguard.audit.models import AuditEntry
from meiguard.equipment import actions
from meiguard.lifecycle import actions as lifecycle
from meiguard.lifecycle.choices import Job
from meiguard.lifecycle.models import JobRun
from meiguard.notify.models import Notification
from meiguard.registry import actions as reg

from .conftest import SYSTEM, TODAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def due(clinic, ma) -> dt.date:
    """RF-0001 inspected every 30 days from 2026-03-03: due 2026-04-02 (its calibration a year on)."""
    reg.update_device(SYSTEM, clinic.device.pk, inspection_interval_days=30)
    return TODAY + dt.timedelta(days=30)


def _notes():
    return Notification.objects.filter(dedupe_key__startswith="equipment:")


def test_keepers_are_reminded_once_before_and_once_when_overdue(clinic, ma, due):
    world = clinic.world
    assert actions.remind_due_devices(due - dt.timedelta(days=8)) == 0
    assert actions.remind_due_devices(due - dt.timedelta(days=7)) == 2
    assert {n.recipient_id for n in _notes()} == {world.users["wang"].pk, ma.pk}
    assert "即将到期" in _notes().first().title
    with translation.override("en"):  # rendered in the reader's language
        assert "due" in _notes().first().display_title.lower()
    assert actions.remind_due_devices(due - dt.timedelta(days=7)) == 0  # the same day again
    assert actions.remind_due_devices(due - dt.timedelta(days=2)) == 0  # a later day before the due date
    assert actions.remind_due_devices(due) == 0  # due today is not overdue yet
    assert actions.remind_due_devices(due + dt.timedelta(days=1)) == 2
    assert _notes().filter(title__contains="已逾期").count() == 2
    assert actions.remind_due_devices(due + dt.timedelta(days=5)) == 0
    assert _notes().count() == 4
    assert AuditEntry.objects.filter(action="equipment.device.reminded").count() == 2
    # Not the doctor, the nurse, the compliance officer, nor anyone at another institution.
    others = {world.users[u].pk for u in ("li", "zhang", "zhao", "sun", "qian")}
    assert not _notes().filter(recipient_id__in=others).exists()


def test_a_new_due_date_is_reminded_afresh(clinic, ma, due):
    from .conftest import record

    assert actions.remind_due_devices(due - dt.timedelta(days=3)) == 2
    record(clinic, performed_on=due - dt.timedelta(days=3), today=due - dt.timedelta(days=3))
    assert actions.remind_due_devices(due + dt.timedelta(days=1)) == 0  # the old due date was met
    assert actions.remind_due_devices(due + dt.timedelta(days=24)) == 2  # the next one, a week before


def test_devices_out_of_service_are_not_chased(clinic, ma, due):
    from .conftest import record

    record(clinic, result="fail", findings="报警")
    assert actions.remind_due_devices(due + dt.timedelta(days=1)) == 0


def test_it_runs_as_a_daily_lifecycle_job(clinic, ma, due):
    assert Job.REMIND_DEVICE_UPKEEP in lifecycle.DAILY_JOBS
    counts = lifecycle.run_job(Job.REMIND_DEVICE_UPKEEP, (due + dt.timedelta(days=1)).isoformat())
    assert counts == {"notified": 2}
    run = JobRun.objects.get(job=Job.REMIND_DEVICE_UPKEEP)
    assert run.status == "succeeded"
