"""The device-file world on top of the authz ``clinic``: 甲's RF device RF-0001 (热玛吉-FLX, an energy device,
inspected and calibrated on 2026-03-03 every 365 days), and 马采购, 甲's procurement officer (a device keeper)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import TestCase

from meiguard.authz.tests.conftest import (  # noqa: F401  (fixtures)
    FAR,
    PAST,
    SYSTEM,
    TODAY,
    Clinic,
    clinic,
)
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User
from meiguard.equipment import actions


@pytest.fixture
def ma(clinic) -> User:  # noqa: F811
    user = User.objects.create_user(username="ma", password="pw-ma-123456", display_name="马采购")
    Membership.objects.create(user=user, organization=clinic.world.org_jia, role=Role.PROCUREMENT)
    clinic.world.users["ma"] = user
    return user


def record(clinic, username: str = "wang", **fields):  # noqa: F811
    """Record upkeep on 甲's RF device as ``username`` (by default a passing inspection on 2026-03-03)."""
    data: dict[str, object] = {
        "kind": "inspection",
        "performed_on": TODAY,
        "result": "pass",
        "performer": "staff",
        "performed_by_id": clinic.world.users["wang"].pk,
    }
    data.update(fields)
    device_id = data.pop("device_id", clinic.device.pk)
    # On-commit work runs as after a real commit (the engine's snapshot cache is invalidated then).
    with TestCase.captureOnCommitCallbacks(execute=True):
        return actions.record_upkeep(clinic.world.actor(username), device_id, **data)  # type: ignore[arg-type]


ENGINEER = {
    "performer": "engineer",
    "performed_by_id": None,
    "engineer_name": "陈工",
    "engineer_company": "Solta 中国",
    "engineer_certificate_no": "ENG-2026-001",
}


def day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)
