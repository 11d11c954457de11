"""Upkeep records: kinds and validation, the device's status and dates follow them, the engine obeys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions as authz_actions
from meiguard.authz.policy import Outcome
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.equipment.models import UpkeepRecord
from meiguard.registry import actions as reg
from meiguard.registry.models import Device

from .conftest import ENGINEER, SYSTEM, TODAY, day, record

pytestmark = pytest.mark.django_db


def _at(d: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(d, dt.time(10)))


def _check(clinic, on: dt.date = TODAY):
    return authz_actions.check(clinic.world.actor("li"), clinic.request(at=_at(on))).decision


def _device(clinic) -> Device:
    return Device.objects.get(pk=clinic.device.pk)


def test_it_records_each_kind(clinic):
    for kind in ("acceptance", "installation", "inspection", "repair"):
        record(clinic, kind=kind)
    record(clinic, kind="calibration", **ENGINEER)
    kinds = set(UpkeepRecord.objects.filter(device=clinic.device).values_list("kind", flat=True))
    assert kinds == {"acceptance", "installation", "inspection", "repair", "calibration"}
    assert _device(clinic).status == "active"


def test_a_failed_result_needs_findings(clinic):
    with pytest.raises(FieldErrors) as exc:
        record(clinic, result="fail", findings="  ")
    assert "findings" in exc.value.errors
    assert not UpkeepRecord.objects.exists()


def test_a_result_is_required_except_for_scrapping(clinic):
    with pytest.raises(FieldErrors) as exc:
        record(clinic, result="")
    assert "result" in exc.value.errors


def test_the_makers_engineer_calibrates_an_energy_device(clinic):
    with pytest.raises(FieldErrors) as exc:
        record(clinic, kind="calibration")
    assert "performer" in exc.value.errors
    with pytest.raises(FieldErrors) as exc:
        record(clinic, kind="calibration", **{**ENGINEER, "engineer_certificate_no": ""})
    assert "engineer_certificate_no" in exc.value.errors
    rec = record(clinic, kind="calibration", **ENGINEER)
    assert rec.performer_label == "陈工 · Solta 中国 · 证书 ENG-2026-001"


def test_a_staff_performer_must_belong_to_the_institution(clinic):
    with pytest.raises(FieldErrors) as exc:
        record(clinic, performed_by_id=clinic.world.users["sun"].pk)
    assert "performed_by_id" in exc.value.errors


def test_a_record_cannot_be_in_the_future(clinic):
    with pytest.raises(FieldErrors) as exc:
        record(clinic, performed_on=timezone.localdate() + dt.timedelta(days=1))
    assert "performed_on" in exc.value.errors


def test_a_failed_inspection_denies_then_a_passing_one_allows(clinic):
    assert _check(clinic).outcome == Outcome.ALLOW
    failed = record(clinic, result="fail", findings="输出能量偏差 15%")
    assert failed.status_after == "failed_check"
    assert _device(clinic).status == "failed_check"
    decision = _check(clinic)
    assert decision.outcome == Outcome.DENY
    (reason,) = [r for r in decision.reasons if r.code == "DEVICE_FAILED_CHECK"]
    assert reason.rule.rule_id == "DD-07.device-use"

    passed = record(clinic, performed_on=day(1))
    assert passed.status_after == "active"
    device = _device(clinic)
    assert device.status == "active"
    assert device.last_inspection_on == day(1)
    assert device.next_inspection_due == day(1 + 365)
    assert _check(clinic).outcome == Outcome.ALLOW


def test_a_passing_calibration_does_not_clear_a_failed_inspection(clinic):
    record(clinic, result="fail", findings="探头破损")
    record(clinic, kind="calibration", performed_on=day(1), **ENGINEER)
    assert _device(clinic).status == "failed_check"


def test_an_older_passing_record_does_not_clear_a_newer_failure(clinic):
    record(clinic, performed_on=day(1), result="fail", findings="报警")
    record(clinic, performed_on=TODAY)  # entered late, dated before the failure
    assert _device(clinic).status == "failed_check"


def test_a_repair_opened_takes_the_device_out_and_a_passing_repair_returns_it(clinic):
    record(clinic, kind="repair", result="fail", findings="手柄故障,报修")
    assert _device(clinic).status == "maintenance"
    assert "DEVICE_NOT_ACTIVE" in _check(clinic).codes()
    record(clinic, kind="repair", performed_on=day(2), **ENGINEER)
    assert _device(clinic).status == "active"


def test_overdue_calibration_denies_until_a_passing_calibration(clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reg.update_device(SYSTEM, clinic.device.pk, calibration_interval_days=90)
    late = day(120)
    decision = _check(clinic, late)
    assert "DEVICE_CALIBRATION_OVERDUE" in decision.codes()
    record(clinic, kind="calibration", performed_on=late, today=late, **ENGINEER)
    assert _device(clinic).next_calibration_due == late + dt.timedelta(days=90)
    assert "DEVICE_CALIBRATION_OVERDUE" not in _check(clinic, late).codes()


def test_scrapping_is_final(clinic):
    with pytest.raises(FieldErrors):
        record(clinic, kind="scrapping", result="", findings="")
    record(clinic, kind="scrapping", result="pass", findings="超过使用年限")
    device = _device(clinic)
    assert device.status == "retired"
    assert UpkeepRecord.objects.get(kind="scrapping").result == ""
    with pytest.raises(ActionError) as exc:
        record(clinic, performed_on=day(1))
    assert exc.value.code == "DEVICE_SCRAPPED" and exc.value.status == 409


def test_records_and_status_changes_are_audited_on_the_institutions_chain(clinic):
    rec = record(clinic, result="fail", findings="输出不稳")
    org = clinic.jia.organization_id
    created = AuditEntry.objects.get(action="equipment.upkeeprecord.created", object_id=str(rec.pk))
    applied = AuditEntry.objects.get(
        action="equipment.device.upkeep_applied", object_id=str(clinic.device.pk)
    )
    assert created.organization_id == org == applied.organization_id
    assert "failed_check" in str(applied.changes["status"])


def test_readers_and_outsiders_cannot_record(clinic):
    with pytest.raises(ActionError) as exc:
        record(clinic, "li")  # a doctor of 甲 sees the device but keeps no file
    assert exc.value.status == 403
    with pytest.raises(ActionError) as exc:
        record(clinic, "qian")  # the association's auditor reads only
    assert exc.value.status == 403
    from django.http import Http404

    with pytest.raises((Http404, ActionError)):
        record(clinic, "sun")  # another institution: the device does not exist for them
    assert not UpkeepRecord.objects.exists()


def test_a_failure_is_all_or_nothing(clinic, monkeypatch):
    from meiguard.audit import log

    def boom(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(log, "record", boom)
    with pytest.raises(RuntimeError):
        record(clinic, result="fail", findings="x")
    assert not UpkeepRecord.objects.exists()
    assert _device(clinic).status == "active"
