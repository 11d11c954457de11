"""The stock ledger: quantity on hand is the sum of movements; counts adjust; near expiry; FEFO."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from meiguard.core.errors import ActionError, FieldErrors
from meiguard.inventory import actions, queries
from meiguard.inventory.models import StockCount, StockMovement, TraceCode
from meiguard.registry.models import Lot

from .conftest import Inv

pytestmark = pytest.mark.django_db


def _on_hand(inv: Inv) -> dict[tuple[str, str], Decimal]:
    rows = queries.stock(inv.actor("zhao"), inv.clinic.jia.pk)
    return {(r.lot.lot_no, r.location.name): r.quantity for r in rows}


def test_quantity_on_hand_is_the_sum_of_movements(inv: Inv):
    line, codes = inv.box(10)
    lot = line.lot
    zhao = inv.actor("zhao")
    out, inn = actions.record_movement(
        zhao,
        kind="transfer",
        lot_id=lot.pk,
        location_id=inv.fridge.pk,
        to_location_id=inv.shelf.pk,
        quantity=Decimal(3),
        reason="分装至治疗室",
        trace_codes=codes[:3],
    )
    assert out.counterpart_id == inn.pk and inn.counterpart_id == out.pk
    assert (out.quantity, inn.quantity) == (-3, 3)
    assert TraceCode.objects.filter(code__in=codes[:3], location=inv.shelf).count() == 3
    actions.record_movement(
        zhao,
        kind="scrap",
        lot_id=lot.pk,
        location_id=inv.shelf.pk,
        quantity=Decimal(1),
        reason="安瓿破裂",
        trace_codes=codes[:1],
    )
    assert TraceCode.objects.get(code=codes[0]).status == "scrapped"
    assert _on_hand(inv) == {("T2026R1", "药房冷藏柜"): 7, ("T2026R1", "毒麻药品专柜 B"): 2}
    lot.refresh_from_db()
    total = sum(StockMovement.objects.filter(lot=lot).values_list("quantity", flat=True))
    assert lot.quantity == total == 9

    with pytest.raises(ActionError) as exc:
        actions.record_movement(
            zhao, kind="scrap", lot_id=lot.pk, location_id=inv.shelf.pk, quantity=Decimal(5), reason="过期"
        )
    assert exc.value.code == "INSUFFICIENT_STOCK" and exc.value.status == 409
    with pytest.raises(FieldErrors) as exc2:
        actions.record_movement(
            zhao, kind="scrap", lot_id=lot.pk, location_id=inv.shelf.pk, quantity=Decimal(1)
        )
    assert "reason" in exc2.value.errors
    with pytest.raises(FieldErrors) as exc2:
        actions.record_movement(
            zhao, kind="receipt", lot_id=lot.pk, location_id=inv.shelf.pk, quantity=Decimal(1), reason="x"
        )
    assert "kind" in exc2.value.errors
    with pytest.raises(ActionError):  # a doctor keeps no stock
        actions.record_movement(
            inv.actor("li"),
            kind="scrap",
            lot_id=lot.pk,
            location_id=inv.shelf.pk,
            quantity=Decimal(1),
            reason="x",
        )


def test_a_count_writes_adjustments_for_the_differences(inv: Inv):
    line, _codes = inv.box(6)
    zhao = inv.actor("zhao")
    with pytest.raises(FieldErrors) as exc:
        actions.record_count(zhao, location_id=inv.fridge.pk, counts=[{"lot_id": line.lot_id, "counted": 5}])
    assert "reason" in exc.value.errors
    count = actions.record_count(
        zhao,
        location_id=inv.fridge.pk,
        counts=[{"lot_id": line.lot_id, "counted": 5}],
        reason="盘亏一支,待查",
    )
    adj = StockMovement.objects.get(count=count)
    assert (adj.kind, adj.quantity, adj.reason) == ("adjustment", -1, "盘亏一支,待查")
    assert count.lines == [{"lot": line.lot_id, "expected": "6", "counted": "5"}]
    assert _on_hand(inv)[("T2026R1", "药房冷藏柜")] == 5
    same = actions.record_count(
        zhao, location_id=inv.fridge.pk, counts=[{"lot_id": line.lot_id, "counted": 5}]
    )
    assert not StockMovement.objects.filter(count=same).exists()
    assert StockCount.objects.count() == 2


def test_near_expiry_and_first_expiry_first_out(inv: Inv):
    today = timezone.localdate()
    inv.box(2, lot_no="LATE", expiry_date=today + dt.timedelta(days=400))
    soon, _ = inv.box(2, lot_no="SOON", expiry_date=today + dt.timedelta(days=30))
    rows = {r.lot.lot_no: r for r in queries.stock(inv.actor("zhao"), inv.clinic.jia.pk)}
    assert rows["SOON"].near_expiry and not rows["LATE"].near_expiry
    near = queries.stock(inv.actor("zhao"), inv.clinic.jia.pk, near_expiry_only=True)
    assert [r.lot.lot_no for r in near] == ["SOON"]
    picks = queries.fefo(inv.actor("li"), inv.clinic.jia.pk, inv.clinic.toxin.pk)
    assert [r.lot.lot_no for r in picks] == ["SOON", "LATE"]
    Lot.objects.filter(pk=soon.lot_id).update(status="quarantined")
    picks = queries.fefo(inv.actor("li"), inv.clinic.jia.pk, inv.clinic.toxin.pk)
    assert [r.lot.lot_no for r in picks] == ["LATE"]


def test_stock_reads_stay_within_the_institution(inv: Inv):
    inv.box(2)
    from django.http import Http404

    with pytest.raises(Http404):
        queries.stock(inv.clin.world.actor("sun"), inv.clinic.jia.pk)
    assert queries.stock(inv.clin.world.actor("qian"), inv.clinic.jia.pk)  # the association's auditor reads


def test_stock_on_hand_query_count_is_fixed(inv: Inv, django_assert_num_queries):
    inv.box(2)
    inv.box(3, lot_no="T2026R2")
    zhao = inv.actor("zhao")
    queries.stock(zhao, inv.clinic.jia.pk)  # warm the rule-pack cache
    # institution, the rule packs in force (policy's near-expiry days), the ledger sums, lots, locations
    with django_assert_num_queries(5):
        rows = queries.stock(zhao, inv.clinic.jia.pk)
    assert len(rows) == 2
    inv.box(1, lot_no="T2026R3")
    with django_assert_num_queries(5):
        assert len(queries.stock(zhao, inv.clinic.jia.pk)) == 3
