"""Inventory reports and a stock count in a real browser (768 px): 赵专员 opens the usage report, switches to
"by doctor", downloads the Excel export (read back with openpyxl), then counts a cabinet and records one
difference with its reason."""

from __future__ import annotations

from decimal import Decimal

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from meiguard.clinical import actions as clinical
from meiguard.clinical.tests.conftest import clin  # noqa: F401  (fixture)
from meiguard.inventory.models import StockMovement
from meiguard.inventory.tests.conftest import make_inv

from .conftest import login, tablet


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_usage_report_by_doctor_export_and_a_stock_count(page: Page, clin, shot, tmp_path):  # noqa: F811
    inv = make_inv(clin)
    line, codes = inv.box(4)
    lot = line.lot
    assert lot is not None
    case = inv.open_case()
    inv.use(case, codes[0])  # scanned, out of a two-person issue
    clinical.add_usage(
        inv.actor("li"),
        case.pk,
        usage_key="by-lot",
        lot_id=line.lot_id,
        dose_value=Decimal(20),
        dose_unit="U",
    )
    doctor = case.operator.name

    tablet(page)
    login(page, "zhao")
    page.get_by_role("link", name="库存", exact=True).click()
    page.get_by_role("navigation", name="库存").get_by_role("link", name="报表").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("产品使用报表")
    expect(page.locator("figure.chart svg[role=img]")).to_be_visible()
    page.get_by_role("navigation", name="统计维度").get_by_role("link", name="按医师").click()
    table = page.locator("#usage-table")
    expect(table).to_contain_text(doctor)
    expect(table.locator("tbody tr").first).to_contain_text("2")
    _no_sideways_scroll(page)
    shot(page, "usage-by-doctor")

    with page.expect_download() as dl:
        page.get_by_role("link", name="导出 Excel").click()
    path = tmp_path / "usage.xlsx"
    dl.value.save_as(path)
    rows = [list(r) for r in load_workbook(path).worksheets[0].iter_rows(values_only=True)]
    assert rows[0][:4] == ["主诊/手术医师", "使用次数", "扫码记录", "扫码率"]
    assert rows[1][:3] == [doctor, 2, 1]

    # A stock count of the cabinet: one vial short, with the reason.
    page.get_by_role("navigation", name="库存", exact=True).get_by_role("link", name="盘点与移库").click()
    page.get_by_role("link", name="库存盘点").click()
    page.get_by_label("库位").select_option(str(inv.fridge.pk))
    page.get_by_role("button", name="开始盘点").click()
    on_hand = StockMovement.objects.filter(lot_id=lot.pk, location_id=inv.fridge.pk)
    expected = sum((m.quantity for m in on_hand), Decimal(0))
    field = page.get_by_label(f"批号 {lot.lot_no} 实盘数量")
    field.fill(str(expected - 1))
    page.get_by_role("button", name="提交盘点").click()
    expect(page.locator("#form-errors")).to_contain_text("盘点有差异时须填写原因")
    expect(page.get_by_label(f"批号 {lot.lot_no} 实盘数量")).to_have_value(str(expected - 1))
    page.get_by_label("差异原因").fill("破损一支未登记")
    page.get_by_role("button", name="提交盘点").click()
    expect(page.get_by_role("status")).to_contain_text("产生 1 条盘点调整")
    expect(page.get_by_role("table")).to_contain_text("破损一支未登记")
    _no_sideways_scroll(page)
    shot(page, "count-recorded")
    adj = StockMovement.objects.get(kind="adjustment")
    assert (adj.quantity, adj.reason) == (Decimal(-1), "破损一支未登记")
