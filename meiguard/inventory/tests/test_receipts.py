"""Receipt and acceptance (采购验收入库): arrival checks per line, accept or reject by a named person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from meiguard.audit.models import AuditEntry
from meiguard.authz.tests.conftest import FAR, PAST, SYSTEM
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.inventory import actions
from meiguard.inventory.choices import Check, LineStatus, MovementKind
from meiguard.inventory.models import ReceiptLine, StockMovement, TraceCode
from meiguard.registry import actions as reg
from meiguard.registry.models import Lot

from .conftest import Inv, trace_codes

pytestmark = pytest.mark.django_db


def _failed(line: ReceiptLine) -> set[str]:
    return set(line.failed_checks)


def test_a_box_with_one_rejected_line(inv: Inv):
    codes = trace_codes(3)
    receipt = inv.receive(
        inv.line(trace_codes=codes, quantity=3),
        inv.line(lot_no="T2026R2", packaging_intact=False),
    )
    good, broken = receipt.lines.order_by("pk")
    assert good.identified_by == "trace_code" and broken.identified_by == "manual"
    assert _failed(good) == set() and _failed(broken) == {Check.PACKAGING}
    zhao = inv.actor("zhao")

    accepted = actions.accept_line(zhao, good.pk)
    assert (
        accepted.status == LineStatus.ACCEPTED and accepted.decided_by_id == inv.clin.world.users["zhao"].pk
    )
    lot = Lot.objects.get(product=inv.clinic.toxin, lot_no="T2026R1", institution=inv.clinic.jia)
    assert accepted.lot_id == lot.pk and lot.quantity == 3
    assert set(TraceCode.objects.filter(lot=lot, status="received").values_list("code", flat=True)) == set(
        codes
    )
    move = StockMovement.objects.get(receipt_line=accepted)
    assert (move.kind, move.quantity, move.location_id) == (MovementKind.RECEIPT, 3, inv.fridge.pk)

    with pytest.raises(ActionError) as exc:
        actions.accept_line(zhao, broken.pk)
    assert exc.value.code == "CHECKS_FAILED" and exc.value.status == 409
    with pytest.raises(FieldErrors) as exc2:
        actions.reject_line(zhao, broken.pk, reason=" ")
    assert "reason" in exc2.value.errors
    rejected = actions.reject_line(zhao, broken.pk, reason="外包装破损,药品疑似受潮")
    assert rejected.status == LineStatus.REJECTED and rejected.reject_reason.startswith("外包装破损")
    assert ReceiptLine.objects.filter(pk=broken.pk, status="rejected").exists()  # kept
    assert not StockMovement.objects.filter(receipt_line=broken).exists()
    assert not Lot.objects.filter(lot_no="T2026R2").exists()
    with pytest.raises(ActionError) as exc:
        actions.accept_line(zhao, broken.pk)
    assert exc.value.code == "LINE_DECIDED"
    codes_audited = set(
        AuditEntry.objects.filter(action__startswith="inventory.").values_list("action", flat=True)
    )
    assert {
        "inventory.receipt.created",
        "inventory.line.accepted",
        "inventory.line.rejected",
    } <= codes_audited
    assert "inventory.movement.recorded" in codes_audited


def _other_supplier_product(inv: Inv, **changes: object):
    from meiguard.authz.tests.conftest import credit_code

    supplier = reg.create_supplier(
        SYSTEM,
        name="无授权经销商",
        credit_code=credit_code(),
        business_licence_no=credit_code(),
        business_licence_valid_from=PAST,
    )
    return supplier


@pytest.mark.parametrize(
    "case",
    ["registration", "distribution", "expired", "recalled", "cold_missing", "cold_warm", "packaging"],
)
def test_each_arrival_check_fails_on_its_own(inv: Inv, case: str):
    line = inv.line()
    supplier_id = inv.clinic.toxin.supplier_id
    expected = {
        "registration": Check.REGISTRATION,
        "distribution": Check.DISTRIBUTION,
        "expired": Check.NOT_EXPIRED,
        "recalled": Check.NOT_RECALLED,
        "cold_missing": Check.COLD_CHAIN,
        "cold_warm": Check.COLD_CHAIN,
        "packaging": Check.PACKAGING,
    }[case]
    if case == "registration":
        reg.update_product(SYSTEM, inv.clinic.toxin.pk, registration_valid_until=dt.date(2021, 1, 1))
    elif case == "distribution":
        supplier_id = _other_supplier_product(inv).pk
    elif case == "expired":
        line["expiry_date"] = dt.date(2025, 1, 1)
        line["production_date"] = dt.date(2023, 1, 1)
    elif case == "recalled":
        reg.change_lot_status(SYSTEM, inv.clinic.lot.pk, status="recalled", recall_level=1, reason="厂家召回")
        line["lot_no"] = inv.clinic.lot.lot_no
    elif case == "cold_missing":
        line["temperature_c"] = None
    elif case == "cold_warm":
        line["temperature_c"] = Decimal("12.0")
    elif case == "packaging":
        line["packaging_intact"] = False
    receipt = actions.create_receipt(
        inv.actor("zhao"),
        institution_id=inv.clinic.jia.pk,
        supplier_id=supplier_id,
        delivery_note_no=f"CHK-{case}",
        lines=[line],
    )
    assert _failed(receipt.lines.get()) == {expected}


def test_cold_chain_is_checked_only_for_cold_chain_products(inv: Inv):
    reg.update_product(SYSTEM, inv.clinic.toxin.pk, cold_chain=False)
    receipt = inv.receive(inv.line(temperature_c=None))
    checks = [c["check"] for c in receipt.lines.get().checks]
    assert Check.COLD_CHAIN not in checks and Check.PACKAGING in checks


def test_bad_lines_are_reported_one_by_one_and_nothing_is_written(inv: Inv):
    codes = trace_codes(2)
    with pytest.raises(FieldErrors) as exc:
        inv.receive(
            inv.line(),
            inv.line(trace_codes=[codes[0], "123"], quantity=2),
            inv.line(manual_reason="", lot_no=""),
            inv.line(trace_codes=codes[1:], quantity=5),
        )
    errors = exc.value.errors
    assert "lines[0].quantity" not in errors
    assert any("20" in m for m in errors["lines[1].trace_codes"])
    assert {"lines[2].manual_reason", "lines[2].lot_no"} <= set(errors)
    assert "lines[3].quantity" in errors
    assert not ReceiptLine.objects.exists()


def test_a_scanned_udi_fills_product_lot_and_dates(inv: Inv):
    from meiguard.registry.tests.factories import gtin

    di = gtin(31)
    reg.update_product(SYSTEM, inv.clinic.toxin.pk, udi_di=di)
    receipt = inv.receive(
        {
            "code": f"(01){di}(17)301231(11)260105(10)UDI-LOT-7",
            "quantity": 2,
            "location_id": inv.fridge.pk,
            "temperature_c": 5,
            "packaging_intact": True,
        }
    )
    line = receipt.lines.get()
    assert (line.identified_by, line.lot_no, line.expiry_date) == ("udi", "UDI-LOT-7", dt.date(2030, 12, 31))
    assert line.production_date == dt.date(2026, 1, 5) and line.product_id == inv.clinic.toxin.pk


def test_a_trace_code_is_received_once(inv: Inv):
    _line, codes = inv.box(2)
    with pytest.raises(FieldErrors) as exc:
        inv.receive(inv.line(trace_codes=codes[:1], quantity=1, lot_no="T2026R9"))
    assert "lines[0].trace_codes" in exc.value.errors


def test_records_are_kept_as_dd08_requires(inv: Inv):
    line, _codes = inv.box(1)
    assert line.keep_until == dt.date(2032, 12, 31)  # two years after expiry
    reg.update_product(SYSTEM, inv.clinic.rf.pk, cold_chain=False)
    ha = reg.create_product(
        SYSTEM,
        supplier_id=inv.clinic.toxin.supplier_id,
        generic_name="注射用修饰透明质酸钠凝胶",
        brand_name="衡力",
        kind="device",
        registration_no="国械注准20203130001",
        registrant="兰州生物制品研究所",
        registration_valid_until=FAR,
        risk_class="III",
        high_risk=True,
        category="hyaluronic_acid",
        dose_unit="ml",
    )
    receipt = inv.receive(inv.line(product_id=ha.pk, lot_no="HA-1", unit="ml", quantity=1))
    assert receipt.lines.get().keep_until is None  # implant / filler: permanently


def test_a_person_must_hold_a_stock_role(inv: Inv):
    with pytest.raises(ActionError) as exc:
        inv.receive(inv.line(), by="li")  # a doctor
    assert exc.value.status == 403
