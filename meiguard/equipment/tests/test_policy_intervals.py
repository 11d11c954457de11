"""Intervals default from the institution policy (本机构规范 device_inspection_days / device_calibration_days,
the template's 30 / 90 days until an institution sets its own); a device's own interval wins."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from meiguard.equipment import actions, queries
from meiguard.registry import actions as reg
from meiguard.registry.models import Device
from meiguard.rules import institution

from .conftest import SYSTEM, TODAY

pytestmark = pytest.mark.django_db


def _blank_device(clinic, serial: str = "RF-0002") -> Device:
    return reg.create_device(
        SYSTEM,
        institution_id=clinic.jia.pk,
        product_id=clinic.rf.pk,
        serial_no=serial,
        last_inspection_on=TODAY,
        last_calibration_on=TODAY,
    )


def test_a_blank_interval_uses_the_template_values(clinic):
    device = _blank_device(clinic)
    assert device.inspection_interval_days is None and device.calibration_interval_days is None
    assert device.next_inspection_due == TODAY + dt.timedelta(days=30)
    assert device.next_calibration_due == TODAY + dt.timedelta(days=90)


def test_the_devices_own_interval_wins(clinic):
    device = reg.create_device(
        SYSTEM,
        institution_id=clinic.jia.pk,
        product_id=clinic.rf.pk,
        serial_no="RF-0003",
        last_inspection_on=TODAY,
        inspection_interval_days=10,
    )
    assert device.next_inspection_due == TODAY + dt.timedelta(days=10)


def test_the_file_names_the_policy_and_its_source(clinic):
    device = _blank_device(clinic)
    iv = queries.intervals(device, TODAY)
    assert (iv.inspection_days, iv.calibration_days) == (30, 90)
    assert iv.inspection_from_policy and iv.calibration_from_policy
    rule = iv.policy_inspection.rule
    assert rule is not None and rule.rule_id == "INST.device-inspection-days"
    assert rule.pack_label == "机构规范模板 v1"
    assert "2026年医疗美容服务年度工作计划" in rule.source_text


def test_an_institutions_own_policy_reaches_blank_devices_on_the_daily_run(clinic):
    device = _blank_device(clinic)
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    zhao = clinic.world.actor("zhao")
    draft = institution.save_draft(
        zhao,
        clinic.jia.pk,
        values={"device_inspection_days": "14"},
        document="甲诊所设备管理制度",
        effective_from=tomorrow,
    )
    institution.publish(zhao, clinic.jia.pk, draft.version, effective_from=tomorrow)
    assert actions.refresh_policy_dues(today) == 0  # not in force yet
    assert actions.refresh_policy_dues(tomorrow) == 1
    device.refresh_from_db()
    assert device.next_inspection_due == TODAY + dt.timedelta(days=14)
    assert device.next_calibration_due == TODAY + dt.timedelta(days=90)
    iv = queries.intervals(device, tomorrow)
    assert iv.policy_inspection.rule is not None and iv.policy_inspection.rule.pack_label == "本机构规范 v1"
    # The RF-0001 of the fixture has its own 365 days and is left alone.
    assert Device.objects.get(pk=clinic.device.pk).next_inspection_due == TODAY + dt.timedelta(days=365)
