"""A recall in a real browser: 赵专员 recalls lot B2026001 from its movement page; the Check page denies it at
once (LOT_RECALLED), the notice lists the client who received it with her phone, the stock sits in the
quarantine location, and the page reads on a phone.

The case with the lot's usage is set up with the domain actions (what the journey tests is the recall)."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from meiguard.clinical import actions as clinical
from meiguard.clinical.tests.conftest import TOXIN, clin  # noqa: F401  (fixture)
from meiguard.inventory.models import RecallNotice
from meiguard.registry.models import Lot

from .conftest import login, tablet
from .helpers import result, run_check


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_recall_a_lot_the_check_is_denied_and_the_affected_client_listed(page, clin, shot):  # noqa: F811
    lot = clin.clinic.lot
    case = clin.ready(TOXIN)
    clinical.open_record(clin.actor("li"), case.pk)
    clinical.add_usage(
        clin.actor("li"),
        case.pk,
        usage_key="e2e-recall",
        lot_id=lot.pk,
        dose_value=Decimal(40),
        dose_unit="U",
    )
    tablet(page)
    login(page, "zhao")
    run_check(page, clin.clinic)
    expect(result(page)).not_to_contain_text("已被召回")

    page.goto(f"/inventory/lots/{lot.pk}/")
    page.get_by_role("link", name="召回该批次").click()
    page.get_by_label("召回级别").select_option("1")
    page.get_by_label("召回原因").fill("生产企业通知:无菌检查不合格")
    page.get_by_role("button", name="登记并召回").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("召回通知")
    notice = RecallNotice.objects.get()
    assert Lot.objects.get(pk=lot.pk).status == "recalled"
    clients = page.get_by_role("region", name="受影响的求美者")
    expect(clients).to_contain_text(clin.client.name)
    expect(clients).to_contain_text(clin.client.phone)
    expect(page.locator(".clock-state")).to_contain_text("处理中")
    _no_sideways_scroll(page)
    shot(page, "recall-detail")

    run_check(page, clin.clinic)
    expect(result(page)).to_contain_text("已被召回")
    shot(page, "check-denied")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/inventory/recalls/{notice.pk}/")
    expect(page.get_by_role("region", name="受影响的求美者")).to_contain_text(clin.client.name)
    page.goto(f"/inventory/recalls/?institution={clin.clinic.jia.pk}")
    expect(page.get_by_role("table")).to_contain_text("B2026001")
    shot(page, "recall-list-phone")
