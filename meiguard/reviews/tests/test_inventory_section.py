"""The inventory section of a quarterly review: lots used after expiry or while recalled (should be zero),
usages not recorded by scanning, open reconciliation discrepancies, open counterfeit/diversion alerts, devices
overdue for upkeep — on the campaign page and in its PDF/Excel, refreshed by a rebuild."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from meiguard.clinical import actions as clinical
from meiguard.clinical.models import Usage
from meiguard.clinical.tests.conftest import Clin, clin, clinic  # noqa: F401  (fixtures)
from meiguard.inventory import actions as stock
from meiguard.inventory import highrisk, recall
from meiguard.inventory.tests.conftest import Inv, make_inv, trace_codes
from meiguard.registry.models import Device, Lot
from meiguard.reviews import actions, checklist, reports
from meiguard.reviews.choices import ItemCategory
from meiguard.reviews.models import ChecklistItem
from meiguard.reviews.periods import quarter_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def inv(clin: Clin) -> Inv:  # noqa: F811
    return make_inv(clin)


def _usage_like(usage: Usage, lot: Lot, key: str, scanned: str = "") -> Usage:
    """A usage row on another lot (as an import or an older record would have left it)."""
    return Usage.objects.create(
        record_id=usage.record_id,
        case_id=usage.case_id,
        client_id=usage.client_id,
        institution_id=usage.institution_id,
        usage_key=key,
        lot=lot,
        scanned_code=scanned,
        decision_id=usage.decision_id,
    )


def _items(campaign) -> dict[str, ChecklistItem]:
    return {
        i.check_code: i
        for i in ChecklistItem.objects.filter(campaign=campaign, category=ItemCategory.INVENTORY)
    }


def test_the_quarters_stock_and_usage_findings_are_listed_and_reported(inv: Inv):
    today = timezone.localdate()
    period = quarter_of(today)
    line, codes = inv.box(4)
    case = inv.open_case()
    scanned = inv.use(case, codes[0])  # out of a two-person issue, by scan
    clinical.add_usage(
        inv.actor("li"),
        case.pk,
        usage_key="by-lot",
        lot_id=line.lot_id,
        dose_value=Decimal(20),
        dose_unit="U",
    )  # by lot: not scanned
    old = Lot.objects.create(
        product=line.lot.product,
        lot_no="OLD-1",
        institution=inv.clinic.jia,
        expiry_date=today - dt.timedelta(days=400),
        unit="piece",
    )
    _usage_like(scanned, old, "expired-1")  # used after its expiry
    zhao = inv.actor("zhao")
    recall.create_notice(
        zhao,
        product_id=inv.clinic.toxin.pk,
        institution_id=inv.clinic.jia.pk,
        data={"level": 2, "source": "maker", "reason": "标签错误", "lot_nos": [line.lot.lot_no]},
    )
    _usage_like(scanned, line.lot, "after-recall")  # used after the recall was recorded
    highrisk.reconcile(today)  # used 3 (scan 1 + by lot 1 + after recall 1), issued 1: a discrepancy
    stranger = trace_codes(1)[0]
    with pytest.raises(stock.TraceCodeDenied):
        inv.use(case, stranger)  # a counterfeit/diversion alert
    device = Device.objects.filter(institution=inv.clinic.jia).first()
    assert device is not None
    Device.objects.filter(pk=device.pk).update(
        status="active", next_inspection_due=today - dt.timedelta(days=3)
    )

    campaign = actions.create_campaign(
        zhao, institution_id=inv.clinic.jia.pk, period=period.label, kind="internal", today=today
    )
    items = _items(campaign)
    assert list(items) == list(checklist.INVENTORY_ORDER) or set(items) == set(checklist.INVENTORY_ORDER)
    counts = {code: item.evidence["count"] for code, item in items.items()}
    assert counts == {
        "expired_use": 1,
        "recalled_use": 1,
        "not_scanned": 3,
        "open_discrepancies": 1,
        "open_alerts": 1,
        "devices_overdue": 1,
    }
    assert items["not_scanned"].evidence["total"] == 4
    assert "OLD-1" in items["expired_use"].evidence["examples"]
    assert stranger in items["open_alerts"].evidence["examples"]
    assert (
        "国食药监办〔2008〕405号" in items["open_discrepancies"].source or items["open_discrepancies"].source
    )

    # the page shows the section with sentences, not codes
    c = inv.clin.world.client("zhao")
    html = c.get(f"/reviews/{campaign.pk}/").content.decode()
    assert "库存与使用(本季度)" in html
    assert "过期后仍被使用的批次:1 次使用(应为 0)" in html and "未处理的假冒/串货预警:1 条" in html
    assert "expired_use" not in html.replace('"expired_use"', "")

    # PDF and Excel carry it
    wb = load_workbook(io.BytesIO(reports.render_xlsx(zhao, campaign.pk)))
    cells = [str(v) for row in wb.worksheets[1].iter_rows(values_only=True) for v in row if v]
    assert any("召回后仍被使用的批次:1 次使用" in v for v in cells)
    assert reports.render_pdf(zhao, campaign.pk).startswith(b"%PDF")

    # resolving the alert and the discrepancy, then rebuilding: the counts follow, recorded results stay
    actions.mark_item_ok(zhao, items["devices_overdue"].pk, note="已安排厂家工程师")
    for alert in stock.InventoryAlert.objects.all():
        stock.resolve_alert(zhao, alert.pk, resolution="已核实并处理")
    actions.rebuild_checklist(zhao, campaign.pk, today=today)
    items = _items(campaign)
    assert items["open_alerts"].evidence["count"] == 0
    assert items["open_discrepancies"].evidence["count"] == 0
    assert items["devices_overdue"].status == "ok"


def test_a_clean_quarter_lists_every_check_with_zero(inv: Inv):
    today = timezone.localdate()
    campaign = actions.create_campaign(
        inv.actor("zhao"),
        institution_id=inv.clinic.jia.pk,
        period=quarter_of(today).label,
        kind="internal",
        today=today,
    )
    items = _items(campaign)
    assert set(items) == set(checklist.INVENTORY_ORDER)
    assert all(i.evidence["count"] == 0 and i.evidence["examples"] == "—" for i in items.values())
