"""High-risk drugs in a real browser: 赵专员 asks to issue two toxin vials from the locked cabinet, cannot confirm
her own request, 王院长 (a second keeper) confirms it, only one vial is recorded in the case, and the day's
reconciliation shows the discrepancy and raises one alert to the compliance officer.

The box's receipt and the case's usage are done with the domain actions (their own journeys test those pages).
"""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from meiguard.clinical import actions as clinical
from meiguard.clinical.tests.conftest import clin  # noqa: F401  (fixture)
from meiguard.inventory.models import InventoryAlert, IssueRequest, StockMovement
from meiguard.inventory.tests.conftest import make_inv
from meiguard.notify.models import Notification

from .conftest import login, tablet
from .helpers import switch_user


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_two_person_issue_and_a_daily_reconciliation_with_a_discrepancy(page, clin, shot):  # noqa: F811
    inv = make_inv(clin)
    line, _codes = inv.box(3)
    assert line.lot_id is not None
    case = inv.open_case()
    tablet(page)
    login(page, "zhao")
    page.get_by_role("link", name="库存", exact=True).click()
    page.get_by_role("link", name="高风险药品专柜", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("高风险药品专柜")
    page.get_by_text("申请出库(待第二人确认)").click()
    page.get_by_label("批次与库位").select_option(f"{line.lot_id}-{inv.fridge.pk}")
    page.get_by_label("数量").fill("2")
    page.get_by_label("用途").fill(f"肉毒素注射 {case.code}")
    page.get_by_role("button", name="提交出库申请").click()
    req = IssueRequest.objects.get()
    row = page.locator(f"#issue-{req.pk}")
    expect(row).to_contain_text("待第二人确认")
    expect(row).to_contain_text("须由另一人确认")
    expect(row.get_by_role("button", name="复核确认出库")).to_have_count(0)
    assert not StockMovement.objects.filter(kind="issue").exists()
    _no_sideways_scroll(page)

    switch_user(page, "wang")
    page.goto(f"/inventory/high-risk/?institution={inv.clinic.jia.pk}")
    page.locator(f"#issue-{req.pk}").get_by_role("button", name="复核确认出库").click()
    expect(page.locator(f"#issue-{req.pk}")).to_contain_text("已双人确认出库")
    assert StockMovement.objects.filter(kind="issue", lot_id=line.lot_id).count() == 1

    # only one vial goes into the case
    clinical.add_usage(
        inv.actor("li"), case.pk, usage_key="e2e-1", lot_id=line.lot_id, dose_value=Decimal(40), dose_unit="U"
    )
    page.get_by_role("button", name="立即对账").click()
    table = page.get_by_role("region", name="每日对账")
    expect(table).to_contain_text("不符")
    _no_sideways_scroll(page)
    shot(page, "highrisk-reconciled")
    assert InventoryAlert.objects.filter(kind="reconciliation").count() == 1
    assert Notification.objects.filter(
        recipient=inv.clin.world.users["zhao"], message_code="inventory.reconciliation_discrepancy"
    ).exists()

    page.get_by_role("link", name="专用账册").first.click()
    expect(page.get_by_role("region", name="收发记录")).to_contain_text(str(inv.clin.world.users["wang"]))

    # the cabinet and the register at phone and desktop widths: no sideways scrolling
    for width, height in ((390, 844), (1366, 900)):
        page.set_viewport_size({"width": width, "height": height})
        for url in (
            f"/inventory/high-risk/?institution={inv.clinic.jia.pk}",
            f"/inventory/high-risk/register/?institution={inv.clinic.jia.pk}",
        ):
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            _no_sideways_scroll(page)
