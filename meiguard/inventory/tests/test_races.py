"""Two devices using the same trace code at the same instant, in two cases: exactly one usage, the other is
denied (TRACE_CODE_USED) with an alert. Real threads on real connections, released together by a barrier."""

from __future__ import annotations

from typing import Any

import pytest

from meiguard.clinical.models import Usage
from meiguard.clinical.tests.test_races import _race
from meiguard.inventory import actions
from meiguard.inventory.models import InventoryAlert, StockMovement, TraceCode

from .conftest import Inv

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_devices_using_one_trace_code_record_one_usage(inv: Inv):
    line, codes = inv.box(2)
    first, second = inv.open_case(), inv.open_case()
    inv.issue(line.lot_id, 2)  # the toxin: issued by two people for the session, then scanned

    def use(case: Any) -> Any:
        return lambda: inv.use(case, codes[0], key=f"device-{case.pk}", issue=False)

    results = _race(use(first), use(second))
    wins = [r for r in results if isinstance(r, Usage)]
    losses = [r for r in results if isinstance(r, actions.TraceCodeDenied)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "TRACE_CODE_USED"
    assert Usage.objects.filter(scanned_code=codes[0]).count() == 1
    unit = TraceCode.objects.get(code=codes[0])
    assert unit.status == "used" and unit.usage_id == wins[0].pk
    assert StockMovement.objects.filter(kind="issue", lot_id=line.lot_id).count() == 1  # the two-person issue
    assert InventoryAlert.objects.filter(code=codes[0]).count() == 1
    from meiguard.inventory.models import IssueRequest

    assert IssueRequest.objects.get().scanned == 1


def test_two_confirmations_of_one_high_risk_issue_at_once_write_one_movement(inv: Inv):
    from decimal import Decimal

    from meiguard.core.errors import ActionError
    from meiguard.inventory import highrisk
    from meiguard.inventory.models import IssueRequest

    line, _codes = inv.box(3)
    req = highrisk.request_issue(
        inv.actor("zhao"), lot_id=line.lot_id, location_id=inv.fridge.pk, quantity=Decimal(2), purpose="注射"
    )

    def confirm() -> Any:
        return highrisk.confirm_issue(inv.actor("wang"), req.pk)

    results = _race(confirm, confirm)
    wins = [r for r in results if isinstance(r, IssueRequest)]
    losses = [r for r in results if isinstance(r, ActionError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "ISSUE_NOT_OPEN"
    assert StockMovement.objects.filter(kind="issue", lot_id=line.lot_id).count() == 1
    assert actions.on_hand(line.lot_id, inv.fridge.pk) == Decimal(1)
