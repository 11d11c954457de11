"""The inventory API: the same conventions as every router (strict bodies, the envelope, pagination)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meiguard.inventory.models import InventoryAlert, Receipt

from .conftest import Inv, trace_codes

pytestmark = pytest.mark.django_db
BASE = "/api/v1/inventory"


def post(c: Any, path: str, body: dict[str, Any]) -> Any:
    return c.post(BASE + path, data=json.dumps(body), content_type="application/json")


def _body(inv: Inv, *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "institution_id": inv.clinic.jia.pk,
        "supplier_id": inv.clinic.toxin.supplier_id,
        "delivery_note_no": "API-0001",
        "lines": list(lines),
    }


def _line(inv: Inv, **data: Any) -> dict[str, Any]:
    base = {
        "product_id": inv.clinic.toxin.pk,
        "lot_no": "API-LOT",
        "expiry_date": "2030-12-31",
        "quantity": "2",
        "unit": "piece",
        "location_id": inv.fridge.pk,
        "temperature_c": "5.0",
        "packaging_intact": True,
    }
    base.update(data)
    return base


def test_receive_accept_reject_and_read_back_over_http(inv: Inv):
    c = inv.clin.world.client("zhao")
    codes = trace_codes(2)
    r = post(
        c,
        "/receipts",
        _body(
            inv,
            _line(inv, trace_codes=codes),
            _line(inv, lot_no="API-LOT-2", packaging_intact=False, manual_reason="条码污损"),
        ),
    )
    assert r.status_code == 201, r.content
    data = r.json()
    good, bad = data["lines"]
    assert good["identified_by"] == "trace_code" and all(ch["passed"] for ch in good["checks"])
    assert {"check": "packaging", "passed": False} in bad["checks"]
    assert post(c, f"/receipt-lines/{good['id']}/accept", {}).json()["status"] == "accepted"
    r = post(c, f"/receipt-lines/{bad['id']}/accept", {})
    assert r.status_code == 409 and r.json()["code"] == "CHECKS_FAILED"
    assert r.json()["errors"][0]["code"] == "packaging"
    r = post(c, f"/receipt-lines/{bad['id']}/reject", {"reason": "外箱破损"})
    assert r.json()["status"] == "rejected"

    stock = c.get(f"{BASE}/stock?institution_id={inv.clinic.jia.pk}").json()
    assert [(s["lot_no"], s["quantity"]) for s in stock] == [("API-LOT", "2.000")] or [
        (s["lot_no"], float(s["quantity"])) for s in stock
    ] == [("API-LOT", 2.0)]
    r = c.get(f"{BASE}/trace-code?code={codes[0]}")
    assert r.status_code == 200 and r.json()["status"] == "received", r.content
    assert c.get(f"{BASE}/trace-code?code={trace_codes(1)[0]}").status_code == 404
    assert c.get(f"{BASE}/trace-code?code=12ab").status_code == 422
    moves = c.get(f"{BASE}/movements?institution_id={inv.clinic.jia.pk}&limit=1")
    assert moves.status_code == 200 and len(moves.json()["items"]) == 1 and moves.json()["count"] == 1
    r = post(
        c,
        "/movements",
        {
            "kind": "transfer",
            "lot_id": stock[0]["lot_id"],
            "location_id": inv.fridge.pk,
            "to_location_id": inv.shelf.pk,
            "quantity": "1",
            "reason": "治疗室备用",
        },
    )
    assert r.status_code == 201 and [m["kind"] for m in r.json()] == ["transfer_out", "transfer_in"]
    r = post(
        c,
        "/counts",
        {
            "location_id": inv.shelf.pk,
            "counts": [{"lot_id": stock[0]["lot_id"], "counted": "0"}],
            "reason": "丢失",
        },
    )
    assert r.status_code == 201
    fefo = c.get(f"{BASE}/fefo?institution_id={inv.clinic.jia.pk}&product_id={inv.clinic.toxin.pk}").json()
    assert [f["location"] for f in fefo] == ["药房冷藏柜"]
    assert c.get(f"{BASE}/scan-share?institution_id={inv.clinic.jia.pk}").status_code == 200
    assert c.get(f"{BASE}/alerts").json()["count"] == 0


def test_strict_bodies_and_bad_lines_one_by_one(inv: Inv):
    c = inv.clin.world.client("zhao")
    r = post(c, "/receipts", {**_body(inv, _line(inv, manual_reason="x")), "surprise": 1})
    assert r.status_code == 422 and r.json()["field"] == "surprise"
    r = post(c, "/receipts", _body(inv, _line(inv, manual_reason="x", colour="red")))
    assert r.status_code == 422 and "colour" in r.json()["field"]
    r = post(c, "/receipts", _body(inv, _line(inv, trace_codes=["12345"])))
    assert r.status_code == 422 and "trace_codes" in r.json()["field"]
    r = post(
        c,
        "/receipts",
        _body(
            inv,
            _line(inv, manual_reason="x"),
            _line(inv),
            _line(inv, manual_reason="y", quantity="3", trace_codes=trace_codes(1)),
        ),
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"lines[1].manual_reason", "lines[2].quantity"} <= fields and not any(
        f.startswith("lines[0]") for f in fields
    )
    assert not Receipt.objects.exists()
    r = post(
        c, "/movements", {"kind": "issue", "lot_id": 1, "location_id": 1, "quantity": "1", "reason": "x"}
    )
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = post(c, "/locations", {"institution_id": inv.clinic.jia.pk, "name": "x" * 65, "kind": "ordinary"})
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert c.get(f"{BASE}/movements?limit=0").status_code == 422


def test_foreign_institutions_are_absent(inv: Inv):
    sun = inv.clin.world.client("sun")  # 乙's admin
    r = post(sun, "/receipts", _body(inv, _line(inv, manual_reason="x")))
    assert r.status_code == 404 and r.json()["field"] == "institution_id"
    assert sun.get(f"{BASE}/stock?institution_id={inv.clinic.jia.pk}").status_code == 404
    li = inv.clin.world.client("li")  # a doctor: reads, does not receive
    r = post(li, "/receipts", _body(inv, _line(inv, manual_reason="x")))
    assert r.status_code == 403


def test_a_denied_scan_over_the_clinical_api_is_a_409_with_an_alert(inv: Inv):
    case = inv.open_case()
    c = inv.clin.world.client("li")
    code = trace_codes(1)[0]
    r = c.post(
        f"/api/v1/clinical/cases/{case.pk}/usages",
        data=json.dumps({"usage_key": "k1", "code": code, "dose_value": "40", "dose_unit": "U"}),
        content_type="application/json",
    )
    assert r.status_code == 409 and r.json()["code"] == "TRACE_CODE_NOT_RECEIVED"
    assert InventoryAlert.objects.filter(code=code).count() == 1
