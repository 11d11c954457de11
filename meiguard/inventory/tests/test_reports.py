"""Inventory reports (issue 13 part 7) and the movement pages: usage by product/lot/doctor/month with a chart and
an Excel export, stock with near-expiry marks, reconciliation history, alerts with their status; a stock count,
a transfer, a scrap and a return to the supplier from their forms."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from meiguard.core.errors import ActionError, FieldErrors
from meiguard.inventory import actions, highrisk, reports
from meiguard.inventory.choices import MovementKind
from meiguard.inventory.models import InventoryAlert, StockCount, StockMovement, TraceCode
from meiguard.registry.models import Lot

from .conftest import Inv

pytestmark = pytest.mark.django_db


def _lot_usage(inv: Inv, case_id: int, lot_id: int, key: str):
    from meiguard.clinical import actions as clinical

    return clinical.add_usage(
        inv.actor("li"), case_id, usage_key=key, lot_id=lot_id, dose_value=Decimal(40), dose_unit="U"
    )


def _xlsx(response) -> list[list]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def test_period_defaults_to_twelve_months_and_is_bounded():
    today = dt.date(2026, 5, 20)
    p = reports.period(None, None, today=today)
    assert (p.start, p.end, len(p.months)) == (dt.date(2025, 6, 1), dt.date(2026, 5, 1), 12)
    p = reports.period("2026-03", "2025-01", today=today)  # reversed: swapped
    assert (p.start, p.end) == (dt.date(2025, 1, 1), dt.date(2026, 3, 1))
    p = reports.period("2010-01", "2026-05", today=today)  # too long: the latest 36 months
    assert len(p.months) == reports.MAX_MONTHS and p.end == dt.date(2026, 5, 1)
    assert reports.period("junk", "2026-13", today=today).end == dt.date(2026, 5, 1)


def test_usage_by_product_lot_doctor_and_month_in_one_query_each(inv: Inv, django_assert_num_queries):
    line, codes = inv.box(5)
    case = inv.open_case()
    req = highrisk.request_issue(
        inv.actor("zhao"),
        lot_id=line.lot_id,
        location_id=inv.fridge.pk,
        quantity=2,
        purpose="注射",
        case_id=case.pk,
    )
    highrisk.confirm_issue(inv.actor("wang"), req.pk)
    inv.use(case, codes[0])
    _lot_usage(inv, case.pk, line.lot_id, "by-lot")
    actor = inv.actor("zhao")
    p = reports.period(None, None)
    jia = inv.clinic.jia.pk
    for by in reports.USAGE_DIMENSIONS:
        with django_assert_num_queries(1):
            rows = list(reports.usage_rows(actor, jia, by=by, p=p))
        assert len(rows) == 1
        assert (rows[0]["usages"], rows[0]["scanned"], rows[0]["cases"], rows[0]["clients"]) == (2, 1, 1, 1)
    doctor = next(iter(reports.usage_rows(actor, jia, by="doctor", p=p)))
    assert reports.usage_label("doctor", doctor) == case.operator.name
    month = next(iter(reports.usage_rows(actor, jia, by="month", p=p)))
    assert reports.usage_label("month", month) == f"{timezone.localdate():%Y-%m}"
    # another institution's reader sees nothing of 甲's usage
    sun = inv.actor("sun")
    assert list(reports.usage_rows(sun, jia, by="product", p=p)) == []


def test_the_usage_page_draws_a_chart_and_exports_by_doctor(inv: Inv):
    line, codes = inv.box(3)
    case = inv.open_case()
    req = highrisk.request_issue(
        inv.actor("zhao"),
        lot_id=line.lot_id,
        location_id=inv.fridge.pk,
        quantity=1,
        purpose="注射",
        case_id=case.pk,
    )
    highrisk.confirm_issue(inv.actor("wang"), req.pk)
    inv.use(case, codes[0])
    c = inv.clin.world.client("zhao")
    jia = inv.clinic.jia.pk
    page = c.get(f"/inventory/reports/usage/?institution={jia}&by=doctor")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg viewBox="0 0 720 260" role="img"' in html and case.operator.name in html
    assert "按医师" in html and "导出 Excel" in html
    rows = _xlsx(c.get(f"/inventory/reports/usage/?institution={jia}&by=doctor&format=xlsx"))
    assert rows[0][:3] == ["主诊/手术医师", "使用次数", "扫码记录"]
    assert rows[1][:3] == [case.operator.name, 1, 1]
    # the other reports render and export too
    for name in ("stock", "reconciliations", "alerts"):
        assert c.get(f"/inventory/reports/{name}/?institution={jia}").status_code == 200
        _xlsx(c.get(f"/inventory/reports/{name}/?institution={jia}&format=xlsx"))


def test_reports_are_gated_by_the_permission_helper(inv: Inv):
    jia = inv.clinic.jia.pk
    assert inv.clin.world.client("li").get(f"/inventory/reports/usage/?institution={jia}").status_code == 403
    # sun (乙) asks for 甲: gets his own institution's report, never 甲's
    r = inv.clin.world.client("sun").get(f"/inventory/reports/usage/?institution={jia}")
    assert r.status_code in (200, 403) and inv.clinic.jia.name not in r.content.decode()
    page = inv.clin.world.client("zhao").get(f"/inventory/?institution={jia}").content.decode()
    assert "/inventory/reports/usage/" in page and "/inventory/moves/" in page


def test_stock_report_marks_near_expiry_per_location(inv: Inv):
    near = timezone.localdate() + dt.timedelta(days=20)
    inv.box(2, lot_no="NEAR-1", expiry_date=near)
    inv.box(1, lot_no="FAR-1")
    c = inv.clin.world.client("zhao")
    html = c.get(f"/inventory/reports/stock/?institution={inv.clinic.jia.pk}").content.decode()
    assert "近效期" in html and "NEAR-1" in html and 'id="chart-stock-t"' in html
    rows = _xlsx(c.get(f"/inventory/reports/stock/?institution={inv.clinic.jia.pk}&format=xlsx"))
    marks = {r[2]: r[6] for r in rows[1:]}
    assert marks["NEAR-1"] == "近效期" and marks["FAR-1"] in (None, "")


def test_an_alert_is_resolved_once_and_shows_in_the_reconciliation_history(inv: Inv):
    line, _codes = inv.box(3)
    case = inv.open_case()
    _lot_usage(inv, case.pk, line.lot_id, "unissued")  # used without any issue: a discrepancy
    highrisk.reconcile(timezone.localdate())
    alert = InventoryAlert.objects.get()
    c = inv.clin.world.client("zhao")
    jia = inv.clinic.jia.pk
    html = c.get(f"/inventory/reports/reconciliations/?institution={jia}&discrepancies=1").content.decode()
    assert "对账不符" in html and "待处理" in html
    r = c.post(f"/inventory/alerts/{alert.pk}/resolve/?institution={jia}", {"resolution": ""})
    assert r.status_code == 422 and "请填写处理结果" in r.content.decode()
    r = c.post(f"/inventory/alerts/{alert.pk}/resolve/?institution={jia}", {"resolution": "补登出库,已核对"})
    assert r.status_code == 302
    alert.refresh_from_db()
    assert alert.resolution == "补登出库,已核对" and alert.resolved_by_id is not None
    with pytest.raises(ActionError) as exc:
        actions.resolve_alert(inv.actor("zhao"), alert.pk, resolution="again")
    assert exc.value.code == "ALERT_CLOSED"
    html = c.get(f"/inventory/reports/reconciliations/?institution={jia}").content.decode()
    assert "补登出库,已核对" in html
    rows = _xlsx(c.get(f"/inventory/reports/alerts/?institution={jia}&status=resolved&format=xlsx"))
    assert rows[1][5] == "已处理" and rows[1][6] == "补登出库,已核对"
    # a doctor may not close it; an outsider does not find it
    with pytest.raises(ActionError):
        actions.resolve_alert(inv.actor("li"), alert.pk, resolution="x")
    assert (
        inv.clin.world.client("sun")
        .post(f"/inventory/alerts/{alert.pk}/resolve/", {"resolution": "x"})
        .status_code
        == 404
    )


# ---- the movement pages -----------------------------------------------------------------------------


def test_a_stock_count_on_the_page_writes_one_adjustment_with_the_reason(inv: Inv):
    line, _codes = inv.box(5)
    other, _more = inv.box(2, lot_no="T2026R2")
    c = inv.clin.world.client("zhao")
    jia = inv.clinic.jia.pk
    url = f"/inventory/moves/count/?institution={jia}&location={inv.fridge.pk}"
    html = c.get(url).content.decode()
    assert f'name="counted_{line.lot_id}"' in html and "T2026R2" in html
    r = c.post(url, {f"counted_{line.lot_id}": "4", f"counted_{other.lot_id}": "2", "reason": ""})
    assert r.status_code == 422 and "盘点有差异时须填写原因" in r.content.decode()
    assert 'value="4"' in r.content.decode()  # the figures entered are kept
    r = c.post(url, {f"counted_{line.lot_id}": "-1", "reason": "x"})
    assert r.status_code == 422 and "批号 T2026R1" in r.content.decode()
    r = c.post(
        url, {f"counted_{line.lot_id}": "4", f"counted_{other.lot_id}": "2", "reason": "破损一支未登记"}
    )
    assert r.status_code == 302 and "adjusted=1" in r["Location"]
    adj = StockMovement.objects.get(kind=MovementKind.ADJUSTMENT)
    assert (adj.lot_id, adj.quantity, adj.reason) == (line.lot_id, Decimal(-1), "破损一支未登记")
    assert StockCount.objects.count() == 1
    assert "产生 1 条盘点调整" in c.get(r["Location"]).content.decode()


def test_transfer_scrap_and_supplier_return_forms(inv: Inv):
    line, codes = inv.box(5)
    c = inv.clin.world.client("zhao")
    jia = inv.clinic.jia.pk
    page = c.get(f"/inventory/moves/transfer/?institution={jia}").content.decode()
    assert 'id="fefo"' in page and "先出" in page
    pick = f"{line.lot_id}:{inv.fridge.pk}"
    r = c.post(
        f"/inventory/moves/transfer/?institution={jia}",
        {"pick": pick, "to_location_id": inv.ordinary.pk, "quantity": "1", "reason": "移库"},
    )
    assert r.status_code == 422 and "高风险药品专柜" in r.content.decode()  # the toxin stays in a cabinet
    r = c.post(
        f"/inventory/moves/transfer/?institution={jia}",
        {"pick": pick, "to_location_id": inv.shelf.pk, "quantity": "9", "reason": "移库"},
    )
    assert r.status_code == 409 and "库存不足" in r.content.decode()
    assert f'value="{pick}" selected' in r.content.decode()  # the choice is kept on the form
    r = c.post(
        f"/inventory/moves/transfer/?institution={jia}",
        {
            "pick": pick,
            "to_location_id": inv.shelf.pk,
            "quantity": "1",
            "reason": "移库",
            "trace_codes": codes[0],
        },
    )
    assert r.status_code == 302
    assert TraceCode.objects.get(code=codes[0]).location_id == inv.shelf.pk
    r = c.post(f"/inventory/moves/scrap/?institution={jia}", {"pick": pick, "quantity": "1", "reason": ""})
    assert r.status_code == 422 and "原因" in r.content.decode()
    r = c.post(
        f"/inventory/moves/scrap/?institution={jia}",
        {"pick": pick, "quantity": "1", "reason": "瓶身破裂", "trace_codes": codes[1]},
    )
    assert r.status_code == 302 and TraceCode.objects.get(code=codes[1]).status == "scrapped"
    r = c.post(
        f"/inventory/moves/supplier_return/?institution={jia}",
        {"pick": pick, "quantity": "2", "reason": "包装批次错误,退货"},
    )
    assert r.status_code == 302
    back = StockMovement.objects.get(kind=MovementKind.SUPPLIER_RETURN)
    assert back.quantity == Decimal(-2) and back.reason == "包装批次错误,退货"
    assert Lot.objects.get(pk=line.lot_id).quantity == Decimal(
        2
    )  # 5 − scrap 1 − return 2 (the transfer nets 0)
    assert c.get(f"/inventory/moves/nonsense/?institution={jia}").status_code == 404
    assert inv.clin.world.client("li").get(f"/inventory/moves/scrap/?institution={jia}").status_code == 403


def test_record_movement_refuses_unknown_kinds(inv: Inv):
    line, _codes = inv.box(1)
    with pytest.raises(FieldErrors) as exc:
        actions.record_movement(
            inv.actor("zhao"),
            kind="issue",
            lot_id=line.lot_id,
            location_id=inv.fridge.pk,
            quantity=Decimal(1),
            reason="x",
        )
    assert "kind" in exc.value.errors


def test_the_api_resolves_an_alert_once(inv: Inv):
    import json

    inv.box(1)
    case = inv.open_case()
    from meiguard.inventory.tests.conftest import trace_codes

    with pytest.raises(actions.TraceCodeDenied):
        inv.use(case, trace_codes(1)[0])
    alert = InventoryAlert.objects.get()
    c = inv.clin.world.client("zhao")
    url = f"/api/v1/inventory/alerts/{alert.pk}/resolve"
    bad = c.post(url, data=json.dumps({"resolution": "x", "extra": 1}), content_type="application/json")
    assert bad.status_code == 422
    r = c.post(url, data=json.dumps({"resolution": "已报告药监部门"}), content_type="application/json")
    assert r.status_code == 200 and r.json()["resolution"] == "已报告药监部门" and r.json()["resolved_at"]
    again = c.post(url, data=json.dumps({"resolution": "again"}), content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "ALERT_CLOSED"
    sun = inv.clin.world.client("sun")
    assert (
        sun.post(url, data=json.dumps({"resolution": "x"}), content_type="application/json").status_code
        == 404
    )
    listed = c.get(f"/api/v1/inventory/alerts?institution_id={inv.clinic.jia.pk}").json()["items"]
    assert listed[0]["resolution"] == "已报告药监部门"
