"""Inventory in a real browser: 赵专员 receives a box of toxin vials by scanning their trace codes (and a second
line with damaged packaging, which she rejects with a reason), 李医生 uses units in a case by scanning, and a
code scanned a second time is denied on the case page with a counterfeit/diversion alert.

Steps that are not what the journey tests (the case's pre-operative steps) are done with the domain actions.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Usage
from meiguard.clinical.tests.conftest import TOXIN, clin  # noqa: F401  (fixture)
from meiguard.inventory import highrisk
from meiguard.inventory.models import InventoryAlert, ReceiptLine, TraceCode
from meiguard.inventory.tests.conftest import make_inv, trace_codes

from .conftest import login, tablet
from .helpers import switch_user


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_receive_a_box_use_units_by_scanning_and_a_second_scan_is_denied(page, clin, shot):  # noqa: F811
    inv = make_inv(clin)
    codes = trace_codes(3)
    tablet(page)
    login(page, "zhao")
    page.get_by_role("link", name="库存", exact=True).click()
    page.get_by_role("link", name="验收入库", exact=True).click()
    page.get_by_role("link", name="登记到货").click()
    scan = page.get_by_label("扫码(药品追溯码或 UDI,每扫一次一行)")
    expect(scan).to_be_focused()  # scan-first: the scanner's keystrokes land here
    page.get_by_label("供应商").select_option(str(inv.clinic.toxin.supplier_id))
    page.get_by_label("随货同行单号").fill("SH-E2E-001")
    for code in codes:  # a scanner types the code and presses Enter
        scan.press_sequentially(code)
        scan.press("Enter")
    page.get_by_label("产品", exact=True).select_option(str(inv.clinic.toxin.pk))
    page.get_by_label("批号").fill("E2E-LOT-1")
    page.get_by_label("失效日期").fill("2030-12-31")
    page.get_by_label("单位").select_option("piece")
    page.get_by_label("库位").select_option(str(inv.fridge.pk))
    page.get_by_label("到货温度(℃,冷链产品必填)").fill("4.5")
    page.get_by_label("是", exact=True).check()
    _no_sideways_scroll(page)
    page.get_by_role("button", name="登记并检查").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SH-E2E-001")

    # A second line of the same delivery: the outer box is crushed.
    page.get_by_text("增加一行").click()
    add = page.locator("details form")
    add.get_by_label("产品", exact=True).select_option(str(inv.clinic.toxin.pk))
    add.get_by_label("批号").fill("E2E-LOT-2")
    add.get_by_label("失效日期").fill("2030-12-31")
    add.get_by_label("数量").fill("2")
    add.get_by_label("单位").select_option("piece")
    add.get_by_label("到货温度(℃,冷链产品必填)").fill("5")
    add.get_by_label("否", exact=True).check()
    add.get_by_label("手工录入原因(未扫码时必填)").fill("外箱压扁,条码无法扫描")
    add.get_by_role("button", name="登记并检查").click()

    first, second = ReceiptLine.objects.order_by("pk")
    good = page.locator(f"#line-{first.pk}")
    bad = page.locator(f"#line-{second.pk}")
    expect(bad).to_contain_text("✗ 包装完好")
    expect(bad.get_by_role("button", name="验收合格入库")).to_have_count(0)
    good.get_by_role("button", name="验收合格入库").click()
    expect(page.locator(f"#line-{first.pk}")).to_contain_text("验收合格入库")
    page.locator(f"#line-{second.pk}").get_by_label("拒收原因").fill("外箱压扁,药品疑似受损")
    page.locator(f"#line-{second.pk}").get_by_role("button", name="拒收").click()
    expect(page.locator(f"#line-{second.pk}")).to_contain_text("拒收原因:外箱压扁,药品疑似受损")
    _no_sideways_scroll(page)
    shot(page, "receipt-decided")
    assert TraceCode.objects.filter(status="received").count() == 3

    page.get_by_role("link", name="库存", exact=True).first.click()
    expect(page.get_by_role("table")).to_contain_text("E2E-LOT-1")
    expect(page.get_by_role("table")).not_to_contain_text("E2E-LOT-2")

    # 李医生 uses two units in a case by scanning their codes.
    case = clin.ready(TOXIN)
    clinical.open_record(clin.actor("li"), case.pk)
    # The toxin is a high-risk drug: two units leave the cabinet through the two-person issue first.
    first.refresh_from_db()
    issued = highrisk.request_issue(
        clin.actor("zhao"),
        lot_id=first.lot_id,
        location_id=first.location_id,
        quantity=2,
        purpose="注射",
        case_id=case.pk,
    )
    highrisk.confirm_issue(clin.actor("wang"), issued.pk)
    switch_user(page, "li")
    page.goto(f"/clinical/cases/{case.pk}/")
    for code in codes[:2]:
        page.get_by_label("扫描批次/UDI 条码").fill(code)
        page.get_by_label("实际剂量").fill("20")
        page.get_by_role("button", name="核验并记录").click()
        expect(page.locator("#step-usage")).to_contain_text("E2E-LOT-1")
    assert Usage.objects.filter(case=case).count() == 2
    assert TraceCode.objects.filter(status="used").count() == 2

    # The first code again: denied with the reason, and one alert.
    page.get_by_label("扫描批次/UDI 条码").fill(codes[0])
    page.get_by_label("实际剂量").fill("20")
    page.get_by_role("button", name="核验并记录").click()
    expect(page.locator("#step-usage")).to_contain_text("已使用过,不能重复使用")
    _no_sideways_scroll(page)
    shot(page, "second-scan-denied")
    assert Usage.objects.filter(case=case).count() == 2
    alert = InventoryAlert.objects.get()
    assert (alert.kind, alert.code) == ("scanned_again", codes[0])

    switch_user(page, "zhao")
    page.goto(f"/inventory/alerts/?institution={inv.clinic.jia.pk}")
    expect(page.get_by_role("table")).to_contain_text(codes[0])
