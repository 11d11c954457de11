"""Issue 13 loose ends: a used-up lot comes back with new stock; a high-risk unit is scanned only after the
two-person issue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz.tests.conftest import SYSTEM
from meiguard.registry import actions as reg
from meiguard.registry.choices import LotStatus
from meiguard.registry.models import Lot

from .conftest import Inv

pytestmark = pytest.mark.django_db


def test_a_used_up_lot_is_available_again_when_new_stock_is_received(inv: Inv):
    line, _codes = inv.box(2)
    reg.change_lot_status(SYSTEM, line.lot_id, status=LotStatus.USED_UP)
    assert Lot.objects.get(pk=line.lot_id).status == LotStatus.USED_UP
    again, _more = inv.box(3)  # the same lot number delivered again
    assert again.lot_id == line.lot_id
    lot = Lot.objects.get(pk=line.lot_id)
    assert lot.status == LotStatus.AVAILABLE
    assert lot.quantity == Decimal(5)
    entry = AuditEntry.objects.filter(action="registry.lot.status_changed", object_id=str(lot.pk)).last()
    assert entry is not None and "新到货" in entry.reason


def test_a_recalled_lot_is_not_revived_by_a_return(inv: Inv):
    line, _codes = inv.box(2)
    reg.change_lot_status(SYSTEM, line.lot_id, status=LotStatus.QUARANTINED, reason="待查")
    from meiguard.inventory import actions

    actions.record_movement(
        inv.actor("zhao"),
        kind="return",
        lot_id=line.lot_id,
        location_id=inv.fridge.pk,
        quantity=Decimal(1),
        reason="病例未用完退回",
    )
    assert Lot.objects.get(pk=line.lot_id).status == LotStatus.QUARANTINED


def test_a_return_from_a_case_revives_a_used_up_lot(inv: Inv):
    line, _codes = inv.box(1)
    reg.change_lot_status(SYSTEM, line.lot_id, status=LotStatus.USED_UP)
    from meiguard.inventory import actions

    actions.record_movement(
        inv.actor("zhao"),
        kind="return",
        lot_id=line.lot_id,
        location_id=inv.fridge.pk,
        quantity=Decimal(1),
        reason="病例未用完退回",
    )
    assert Lot.objects.get(pk=line.lot_id).status == LotStatus.AVAILABLE
