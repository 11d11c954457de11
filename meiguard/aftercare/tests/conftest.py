"""Aftercare on top of the clinical world: closed cases (toxin by 李医生 with 张护士, breast augmentation by
周医生), a 医务科 login (liu), and a controlled clock (``clock.set(t)`` / ``clock.advance(h=…)``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Case
from meiguard.clinical.tests.conftest import (  # noqa: F401  (fixtures)
    BREAST,
    FILLER,
    TOXIN,
    Clin,
    clin,
    clinic,
)
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User

T0 = timezone.make_aware(dt.datetime(2026, 12, 1, 9, 0))


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: dt.datetime) -> None:
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, at: dt.datetime) -> dt.datetime:
        self.now = at
        return at

    def advance(self, **delta: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch, T0)


@pytest.fixture
def liu(world) -> User:
    """医务科 of 甲."""
    user = User.objects.create_user(username="liu", password="pw-liu-123456", display_name="liu")
    Membership.objects.create(user=user, organization=world.org_jia, role=Role.MEDICAL_DIRECTOR)
    world.users["liu"] = user
    return user


def treat(clin: Clin, procedure: str = TOXIN, *, dose: str = "20") -> Case:  # noqa: F811
    """A case walked to a closed record (toxin: 李医生 with a dose of the clinic's lot)."""
    case = clin.ready(procedure)
    doctor = clin.doctor_of(case)
    clinical.open_record(clin.actor(doctor), case.pk)
    if procedure == TOXIN:
        clinical.add_usage(
            clin.actor(doctor),
            case.pk,
            usage_key="u1",
            lot_id=clin.clinic.lot.pk,
            dose_value=Decimal(dose),
            dose_unit="U",
        )
    if case.is_surgical:
        clin.node(case, "before_incision")
        clin.node(case, "before_leaving")
    clinical.close_record(clin.actor(doctor), case.pk, notes="顺利")
    case.refresh_from_db()
    return case
