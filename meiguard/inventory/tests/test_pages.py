"""The inventory pages: receive by scanning, decide line by line, stock with near-expiry marks, lot history,
alerts; foreign institutions are absent and doctors are not offered stock pages."""

from __future__ import annotations

import pytest

from meiguard.inventory.models import Receipt

from .conftest import Inv, trace_codes

pytestmark = pytest.mark.django_db


def test_receive_by_scanning_then_accept_and_reject_on_the_page(inv: Inv):
    c = inv.clin.world.client("zhao")
    jia = inv.clinic.jia.pk
    r = c.get(f"/inventory/receipts/new/?institution={jia}")
    assert r.status_code == 200 and b'name="scans"' in r.content and b"autofocus" in r.content
    codes = trace_codes(3)
    form = {
        "supplier_id": inv.clinic.toxin.supplier_id,
        "delivery_note_no": "PAGE-1",
        "scans": "\r\n".join(codes) + "\r\n",
        "product_id": inv.clinic.toxin.pk,
        "lot_no": "PG-1",
        "expiry_date": "2030-12-31",
        "unit": "piece",
        "location_id": inv.fridge.pk,
        "temperature_c": "5",
        "packaging_intact": "yes",
    }
    r = c.post(f"/inventory/receipts/new/?institution={jia}", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    receipt = Receipt.objects.get(delivery_note_no="PAGE-1")
    line = receipt.lines.get()
    assert line.trace_codes == codes and line.quantity == 3
    broken = {
        **form,
        "scans": "",
        "lot_no": "PG-2",
        "quantity": "2",
        "packaging_intact": "no",
        "manual_reason": "条码污损",
    }
    r = c.post(f"/inventory/receipts/{receipt.pk}/lines/", broken)
    assert r.status_code == 302, r.content.decode()[:3000]
    second = receipt.lines.exclude(pk=line.pk).get()
    page = c.get(f"/inventory/receipts/{receipt.pk}/").content.decode()
    assert "✗ 包装完好" in page and "验收合格入库" in page
    assert c.post(f"/inventory/lines/{line.pk}/decide/", {"decision": "accept"}).status_code == 302
    r = c.post(f"/inventory/lines/{second.pk}/decide/", {"decision": "reject", "reason": ""})
    assert r.status_code == 422 and "拒收须填写原因" in r.content.decode()
    r = c.post(f"/inventory/lines/{second.pk}/decide/", {"decision": "accept"})
    assert r.status_code == 409 and "只能拒收" in r.content.decode()
    assert (
        c.post(
            f"/inventory/lines/{second.pk}/decide/", {"decision": "reject", "reason": "包装破损"}
        ).status_code
        == 302
    )
    page = c.get(f"/inventory/receipts/{receipt.pk}/").content.decode()
    assert "拒收原因:包装破损" in page and "医疗器械使用质量监督管理办法" in page
    stock = c.get(f"/inventory/?institution={jia}").content.decode()
    assert "PG-1" in stock and "PG-2" not in stock
    line.refresh_from_db()
    lot_page = c.get(f"/inventory/lots/{line.lot_id}/").content.decode()
    assert "验收入库" in lot_page


def test_bad_input_on_the_page_is_a_message_not_a_500(inv: Inv):
    c = inv.clin.world.client("zhao")
    r = c.post(
        f"/inventory/receipts/new/?institution={inv.clinic.jia.pk}",
        {"supplier_id": "x", "delivery_note_no": "", "scans": "12345\n", "packaging_intact": ""},
    )
    assert r.status_code in (404, 422)
    assert not Receipt.objects.exists()


def test_near_expiry_marks_and_alerts_page(inv: Inv):
    import datetime as dt

    from django.utils import timezone

    inv.box(1, lot_no="SOON", expiry_date=timezone.localdate() + dt.timedelta(days=20))
    c = inv.clin.world.client("zhao")
    page = c.get(f"/inventory/?institution={inv.clinic.jia.pk}").content.decode()
    assert "近效期" in page
    case = inv.open_case()
    from meiguard.inventory import actions

    code = trace_codes(1)[0]
    with pytest.raises(actions.TraceCodeDenied):
        inv.use(case, code)
    page = c.get(f"/inventory/alerts/?institution={inv.clinic.jia.pk}").content.decode()
    assert code in page and "关于加强药品追溯码在医疗保障和工伤保险领域采集应用的通知" in page


def test_who_is_offered_the_stock_pages(inv: Inv):
    world = inv.clin.world
    assert 'href="/inventory/"' in world.client("zhao").get("/").content.decode()
    assert 'href="/inventory/"' not in world.client("li").get("/").content.decode()
    assert world.client("li").get("/inventory/").status_code == 403
    assert world.client("sun").get(f"/inventory/?institution={inv.clinic.jia.pk}").status_code == 200
    # 乙's admin sees 乙 only: 甲's receipt is absent
    receipt = inv.receive(inv.line())
    assert world.client("sun").get(f"/inventory/receipts/{receipt.pk}/").status_code == 404
    assert world.client("qian").get(f"/inventory/receipts/{receipt.pk}/").status_code == 200
