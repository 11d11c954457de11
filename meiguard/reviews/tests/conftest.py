"""Review fixtures on top of the authz ``clinic`` (甲 with 李医生, products, a device and authorizations).

``at(...)`` makes China-time datetimes; ``deny_missing`` / ``deny_expired`` write real decision-log rows
through the engine, so the checklist reads what production would.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from meiguard.authz import actions as authz_actions
from meiguard.authz.tests.conftest import (
    SYSTEM,
    Clinic,
    authorize,
    clinic,
    id_number,
)
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Practitioner
from meiguard.reviews import actions

TODAY = dt.date(2026, 3, 10)  # inside 2026-Q1, a week after the clinic's decisions


def at(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime(y, m, d, h, 0))


def check(c: Clinic, actor_name: str = "li", **changes: object):
    return authz_actions.check(c.world.actor(actor_name), c.request(**changes))


def deny_missing(c: Clinic, when: dt.datetime | None = None):
    """李医生 injects filler: no authorization covers derm-filler-injection → AUTHORIZATION_MISSING."""
    checked = check(
        c, procedure_code="derm-filler-injection", products=(), device_ids=(), at=when or at(2026, 3, 3)
    )
    assert "AUTHORIZATION_MISSING" in checked.decision.codes()
    return checked


def make_nurse(inst: Institution, name: str, hours: int | None) -> Practitioner:
    nurse = reg.create_practitioner(
        SYSTEM,
        main_institution_id=inst.pk,
        name=name,
        id_number=id_number(),
        profession="nurse",
        licence_no=f"NU{abs(hash(name)) % 10**10:010d}",
        practice_category="nursing",
        title="nurse",
    )
    if hours is not None:
        reg.create_qualification(
            SYSTEM, practitioner_id=nurse.pk, kind="nurse_training_hours", hours=Decimal(hours), year=2025
        )
    return nurse


def add_cme(person: Practitioner, year: int, credit_class: str, credits: int):
    return reg.create_qualification(
        SYSTEM,
        practitioner_id=person.pk,
        kind="cme_credits",
        credits=Decimal(credits),
        credit_class=credit_class,
        year=year,
    )


def full_cme(person: Practitioner, year: int = 2026) -> None:
    add_cme(person, year, "class_i", 10)
    add_cme(person, year, "class_ii", 15)


@pytest.fixture
def campaign(clinic):
    """qian's association campaign for 甲, 2026-Q1 (checklist not built yet)."""
    return actions.create_campaign(
        clinic.world.actor("qian"), institution_id=clinic.jia.pk, period="2026-Q1", build=False, today=TODAY
    )


__all__ = ["authorize", "clinic"]
