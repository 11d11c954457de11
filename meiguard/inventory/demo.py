"""Demo rows for inventory at 雅美门诊部: three storage locations, one delivery from 华东医药 received and checked
by 吴采购 (衡力 with ten trace codes into the fridge, 润百颜 entered by hand, one line rejected for damaged
packaging), so the stock page, a lot's ledger and the trace-code scan on the case page have something to show.

Idempotent: the receipt is looked up by its delivery note number first. Labelled 演示数据.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from meiguard.core.access import DEMO_ACTOR, Actor, build_actor
from meiguard.core.models import User
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Lot, Product, Supplier

from . import actions
from .models import Receipt, StorageLocation

YAMEI = "长沙雅美医疗美容门诊部"
NOTE_NO = "演示-SH20260001"
# Ten units of 衡力, one trace code each: '81' + the 5-digit demo drug code + a 13-digit unit serial.
TRACE_CODES = tuple(f"8190001{n:013d}" for n in range(1, 11))


def seed(stdout: Any) -> None:
    system = Actor.system(DEMO_ACTOR)
    yamei = Institution.objects.filter(name=YAMEI).first()
    wu = User.objects.filter(username="wu").first()
    toxin = Product.objects.filter(brand_name="衡力").first()
    rby = Product.objects.filter(brand_name="润百颜").first()
    huadong = Supplier.objects.filter(name="华东医药供应链有限公司").first()
    if None in (yamei, wu, toxin, rby, huadong):
        stdout.write("库存演示数据:缺少基础演示数据,已跳过 / inventory demo: base world missing, skipped\n")
        return
    assert (
        yamei is not None and wu is not None and toxin is not None and rby is not None and huadong is not None
    )
    if Receipt.objects.filter(institution=yamei, delivery_note_no=NOTE_NO).exists():
        return
    if not toxin.cold_chain:
        reg.update_product(system, toxin.pk, cold_chain=True)
    keeper = build_actor(wu)
    places = {}
    for name, kind in (
        ("药房冷藏柜", "cold_chain"),
        ("耗材库 A 架", "ordinary"),
        ("高风险药品专柜", "high_risk"),
    ):
        found = StorageLocation.objects.filter(institution=yamei, name=name).first()
        places[kind] = found or actions.create_location(keeper, institution_id=yamei.pk, name=name, kind=kind)
    toxin_lot = Lot.objects.filter(institution=yamei, product=toxin, lot_no="HL20260315").first()
    rby_lot = Lot.objects.filter(institution=yamei, product=rby, lot_no="RBY20261102").first()
    today = timezone.localdate()
    receipt = actions.create_receipt(
        keeper,
        institution_id=yamei.pk,
        supplier_id=huadong.pk,
        delivery_note_no=NOTE_NO,
        note="演示数据",
        lines=[
            {
                "product_id": toxin.pk,
                "lot_no": "HL20260315",
                "expiry_date": toxin_lot.expiry_date if toxin_lot else today + dt.timedelta(days=300),
                "unit": "piece",
                "trace_codes": list(TRACE_CODES),
                "quantity": len(TRACE_CODES),
                "location_id": places["high_risk"].pk,
                "temperature_c": Decimal("4.5"),
                "packaging_intact": True,
            },
            {
                "product_id": rby.pk,
                "lot_no": "RBY20261102",
                "expiry_date": rby_lot.expiry_date if rby_lot else today + dt.timedelta(days=500),
                "unit": "piece",
                "quantity": 6,
                "manual_reason": "外箱条码被胶带覆盖,无法扫描(演示数据)",
                "location_id": places["ordinary"].pk,
                "packaging_intact": True,
            },
            {
                "product_id": rby.pk,
                "lot_no": "RBY20261102",
                "expiry_date": rby_lot.expiry_date if rby_lot else today + dt.timedelta(days=500),
                "unit": "piece",
                "quantity": 2,
                "manual_reason": "外箱破损,条码无法扫描(演示数据)",
                "location_id": places["ordinary"].pk,
                "packaging_intact": False,
            },
        ],
    )
    good_toxin, good_rby, broken = receipt.lines.order_by("pk")
    actions.accept_line(keeper, good_toxin.pk)
    actions.accept_line(keeper, good_rby.pk)
    actions.reject_line(keeper, broken.pk, reason="外箱破损,两盒受压变形,已拒收退回供应商(演示数据)")
    stdout.write(
        "库存演示数据:库位 3 个、验收入库单 1 张(1 行拒收)、衡力 10 个药品追溯码 / "
        "inventory demo: 3 locations, 1 receipt (1 line rejected), 10 trace codes\n"
    )
