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


# ---- a high-risk unit is scanned only out of a confirmed two-person issue ------------------------------


def test_a_toxin_unit_scanned_without_a_two_person_issue_is_refused_with_the_way_to_fix_it(inv: Inv):
    from meiguard.clinical.models import Usage
    from meiguard.core.errors import ActionError
    from meiguard.inventory.models import InventoryAlert, StockMovement, TraceCode

    line, codes = inv.box(3)
    case = inv.open_case()
    with pytest.raises(ActionError) as exc:
        inv.use(case, codes[0], issue=False)
    assert (exc.value.code, exc.value.status, exc.value.field) == ("HIGH_RISK_NOT_ISSUED", 409, "code")
    assert "双人复核出库" in exc.value.message and "发起出库申请" in exc.value.message
    assert not Usage.objects.exists() and not InventoryAlert.objects.exists()  # not counterfeit: no alert
    assert TraceCode.objects.get(code=codes[0]).status == "received"
    assert not StockMovement.objects.filter(kind="issue").exists()

    # issued for another case: still refused here
    other = inv.open_case()
    inv.issue(line.lot_id, 1, case=other)
    with pytest.raises(ActionError) as exc:
        inv.use(case, codes[0], issue=False)
    assert exc.value.code == "HIGH_RISK_NOT_ISSUED"

    # issued for this case: allowed, once per issued unit
    req = inv.issue(line.lot_id, 1, case=case)
    usage = inv.use(case, codes[0], issue=False)
    req.refresh_from_db()
    assert req.scanned == 1 and TraceCode.objects.get(code=codes[0]).usage_id == usage.pk
    assert StockMovement.objects.filter(kind="issue", lot_id=line.lot_id).count() == 2  # the two issues only
    assert Lot.objects.get(pk=line.lot_id).quantity == Decimal(1)
    with pytest.raises(ActionError) as exc:
        inv.use(
            case, codes[1], issue=False
        )  # the case's issued unit is used up; the other case's is not ours
    assert exc.value.code == "HIGH_RISK_NOT_ISSUED"


def test_a_session_issue_serves_any_case_and_the_day_reconciles(inv: Inv):
    from django.utils import timezone

    from meiguard.inventory import highrisk
    from meiguard.inventory.models import Reconciliation

    line, codes = inv.box(3)
    req = inv.issue(line.lot_id, 2)  # for the session, no case
    first, second = inv.open_case(), inv.open_case()
    inv.use(first, codes[0], issue=False)
    inv.use(second, codes[1], issue=False)
    req.refresh_from_db()
    assert req.scanned == 2
    assert highrisk.reconcile(timezone.localdate())["discrepancies"] == 0
    rec = Reconciliation.objects.get()
    assert (rec.used, rec.issued, rec.on_hand, rec.matched) == (Decimal(2), Decimal(2), Decimal(1), True)


def test_a_plain_drug_unit_needs_no_issue(inv: Inv):
    from meiguard.inventory import actions
    from meiguard.registry.models import Product

    _line, codes = inv.box(1)
    Product.objects.filter(pk=inv.clinic.toxin.pk).update(category="local_anesthetic")
    unit = actions.take_trace_code(inv.clinic.jia.pk, codes[0], case_id=None)
    assert unit.issue_id is None
