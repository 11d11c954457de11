"""Lifecycle tests build on the authz ``clinic`` (甲诊所 with 李医生, lots, a device, authorizations)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from meiguard.authz.tests.conftest import SYSTEM, Clinic, authorize, clinic  # noqa: F401  (fixture)
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User
from meiguard.registry import actions as reg
from meiguard.registry.models import Lot, Qualification

ON = dt.date(2026, 3, 3)
_n = itertools.count(1)


def days(n: int, on: dt.date = ON) -> dt.date:
    return on + dt.timedelta(days=n)


def licence_of(c: Clinic) -> Qualification:
    return Qualification.objects.get(practitioner=c.li, kind="practice_licence")


def expire_licence_in(c: Clinic, n: int, on: dt.date = ON) -> Qualification:
    q = licence_of(c)
    return reg.update_qualification(SYSTEM, q.pk, valid_until=days(n, on))


def new_lot(c: Clinic, expiry: dt.date, *, institution_id: int | None = None) -> Lot:
    return reg.create_lot(
        SYSTEM,
        institution_id=institution_id or c.jia.pk,
        product_id=c.toxin.pk,
        lot_no=f"T{next(_n):06d}",
        expiry_date=expiry,
        unit="piece",
    )


def supplier_admin(c: Clinic, username: str = "chen") -> User:
    user = User.objects.create_user(
        username=username, password="pw-chen-123456", email=f"{username}@supplier.cn"
    )
    Membership.objects.create(user=user, organization=c.toxin.supplier.organization, role=Role.SUPPLIER_ADMIN)
    return user


def with_emails(world) -> None:
    for name, user in world.users.items():
        user.email = f"{name}@example.cn"
        user.save(update_fields=["email"])


@pytest.fixture
def c(clinic: Clinic) -> Clinic:  # noqa: F811
    return clinic
