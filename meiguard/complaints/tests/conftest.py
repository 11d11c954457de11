"""Complaints on top of the clinical world (甲 with 李医生, 张护士, 授权专员 zhao, admin wang; the association
overseeing 甲 with its auditor qian; 乙 with sun), a 医务科 login (liu) and a controlled clock
(``clock.set(t)`` / ``clock.advance(h=…)``). T0 is a Friday afternoon, so the working-day clock crosses a
weekend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from meiguard.aftercare.tests.conftest import Clock
from meiguard.clinical.tests.conftest import (  # noqa: F401  (fixtures)
    TOXIN,
    Clin,
    clin,
    clinic,
)
from meiguard.complaints import actions
from meiguard.complaints.models import Complaint
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User

T0 = timezone.make_aware(dt.datetime(2026, 12, 4, 15, 0))  # Friday


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch, T0)


@pytest.fixture
def liu(world) -> User:
    """医务科 of 甲."""
    user = User.objects.create_user(username="liu", password="pw-liu-123456", display_name="刘主任")
    Membership.objects.create(user=user, organization=world.org_jia, role=Role.MEDICAL_DIRECTOR)
    world.users["liu"] = user
    return user


NAME = "投诉人王某某"
PHONE = "13912345678"


def take(clin: Clin, who: str = "zhang", **kw: Any) -> Complaint:  # noqa: F811
    data: dict[str, Any] = dict(
        institution_id=clin.clinic.jia.pk,
        channel="phone",
        category="service",
        complainant_name=NAME,
        complainant_contact=PHONE,
        description="前台服务态度差,等候时间长",
    )
    data.update(kw)
    return actions.receive(clin.actor(who), **data)
