"""High-risk drugs over HTTP and on the pages: strict bodies, the envelope, two people, the register exports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from meiguard.inventory.models import IssueRequest, StockMovement

from .conftest import Inv

pytestmark = pytest.mark.django_db
BASE = "/api/v1/inventory"


def post(c: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    return c.post(BASE + path, data=json.dumps(body or {}), content_type="application/json")


def _body(inv: Inv, lot_id: int, **extra: Any) -> dict[str, Any]:
    return {"lot_id": lot_id, "location_id": inv.fridge.pk, "quantity": "1", "purpose": "注射", **extra}


def test_issue_request_confirm_and_cancel_over_http(inv: Inv):
    line, _codes = inv.box(3)
    zhao, wang = inv.clin.world.client("zhao"), inv.clin.world.client("wang")
    r = post(zhao, "/issues", _body(inv, line.lot_id))
    assert r.status_code == 201, r.content
    issue = r.json()
    assert issue["status"] == "requested" and issue["movement_id"] is None
    r = post(zhao, f"/issues/{issue['id']}/confirm")
    assert r.status_code == 409 and r.json()["code"] == "SAME_PERSON" and "另一名" in r.json()["message"]
    r = post(wang, f"/issues/{issue['id']}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "confirmed" and r.json()["movement_id"]
    assert StockMovement.objects.filter(kind="issue", lot_id=line.lot_id).count() == 1
    assert post(wang, f"/issues/{issue['id']}/confirm").status_code == 409
    second = post(zhao, "/issues", _body(inv, line.lot_id)).json()
    r = post(wang, f"/issues/{second['id']}/cancel", {"reason": "改期"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    listed = zhao.get(BASE + "/issues", {"status": "cancelled"}).json()
    assert [i["id"] for i in listed["items"]] == [second["id"]]


def test_strict_bodies_and_errors_in_the_envelope(inv: Inv):
    line, _codes = inv.box(1)
    zhao = inv.clin.world.client("zhao")
    r = post(zhao, "/issues", _body(inv, line.lot_id, extra="x"))
    assert r.status_code == 422 and r.json()["code"]
    r = post(zhao, "/issues", _body(inv, line.lot_id, quantity="0"))
    assert r.status_code == 422
    r = post(zhao, "/issues", _body(inv, line.lot_id, purpose="x" * 201))
    assert r.status_code == 422
    r = post(zhao, "/issues", _body(inv, line.lot_id, quantity="2"))
    assert r.status_code == 409 and r.json()["code"] == "INSUFFICIENT_STOCK"
    r = post(zhao, "/issues", _body(inv, line.lot_id, location_id=inv.ordinary.pk))
    assert r.status_code == 422 and r.json()["field"] == "location_id"
    r = post(zhao, "/issues/999999/confirm")
    assert r.status_code == 404
    r = post(zhao, "/issues/1/cancel", {"reason": ""})
    assert r.status_code == 422
    r = post(inv.clin.world.client("sun"), "/issues", _body(inv, line.lot_id))
    assert r.status_code == 404  # another institution's lot is not there for sun
    assert IssueRequest.objects.count() == 0
    r = post(zhao, "/reconciliations/run", {"institution_id": inv.clinic.jia.pk, "day": "2099-01-01"})
    assert r.status_code == 422 and r.json()["field"] == "day"
    r = zhao.get(BASE + "/register", {"institution_id": inv.clinic.jia.pk, "product_id": inv.clinic.rf.pk})
    assert r.status_code == 422 and r.json()["field"] == "product_id"


def test_reconciliation_run_list_and_register_exports_over_http(inv: Inv):
    line, _codes = inv.box(2)
    case = inv.open_case()
    from decimal import Decimal

    from meiguard.clinical import actions as clinical

    clinical.add_usage(
        inv.actor("li"),
        case.pk,
        usage_key="http-1",
        lot_id=line.lot_id,
        dose_value=Decimal(40),
        dose_unit="U",
    )
    zhao = inv.clin.world.client("zhao")
    today = timezone.localdate().isoformat()
    r = post(zhao, "/reconciliations/run", {"institution_id": inv.clinic.jia.pk, "day": today})
    assert r.status_code == 200 and r.json() == {"reconciled": 1, "discrepancies": 1, "alerts": 1}
    rows = zhao.get(BASE + "/reconciliations", {"matched": "false"}).json()["items"]
    assert [(Decimal(x["used"]), Decimal(x["issued"]), x["matched"]) for x in rows] == [
        (Decimal(1), Decimal(0), False)
    ]
    params = {
        "institution_id": inv.clinic.jia.pk,
        "product_id": inv.clinic.toxin.pk,
        "start": today,
        "end": today,
    }
    pdf = zhao.get(BASE + "/register", {**params, "format": "pdf"})
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
    xlsx = zhao.get(BASE + "/register", params)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # the auditor of the overseeing body reads, but does not run
    qian = inv.clin.world.client("qian")
    assert qian.get(BASE + "/reconciliations").json()["count"] == 1
    assert (
        post(qian, "/reconciliations/run", {"institution_id": inv.clinic.jia.pk, "day": today}).status_code
        == 403
    )


def test_pages_per_role(inv: Inv):
    line, _codes = inv.box(2)
    zhao, wang = inv.clin.world.client("zhao"), inv.clin.world.client("wang")
    page = zhao.get("/inventory/high-risk/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "提交出库申请" in text and "国食药监办〔2008〕405号" in text
    r = zhao.post(
        "/inventory/high-risk/issues/",
        {
            "institution": inv.clinic.jia.pk,
            "pick": f"{line.lot_id}-{inv.fridge.pk}",
            "quantity": "1",
            "purpose": "注射",
        },
    )
    assert r.status_code == 302
    req = IssueRequest.objects.get()
    assert "须由另一人确认" in zhao.get("/inventory/high-risk/").content.decode()
    r = zhao.post(
        f"/inventory/high-risk/issues/{req.pk}/decide/",
        {"institution": inv.clinic.jia.pk, "decision": "confirm"},
    )
    assert r.status_code == 409 and "另一名" in r.content.decode()
    assert "复核确认出库" in wang.get("/inventory/high-risk/").content.decode()
    r = wang.post(
        f"/inventory/high-risk/issues/{req.pk}/decide/",
        {"institution": inv.clinic.jia.pk, "decision": "confirm"},
    )
    assert r.status_code == 302
    r = wang.post("/inventory/high-risk/reconcile/", {"institution": inv.clinic.jia.pk})
    assert r.status_code == 302
    assert "不符" in wang.get("/inventory/high-risk/").content.decode()  # one issued, nothing used in cases
    reg = zhao.get("/inventory/high-risk/register/")
    assert reg.status_code == 200 and "下载 PDF" in reg.content.decode()
    assert zhao.get("/inventory/high-risk/register/", {"format": "xlsx"}).content.startswith(b"PK")
    # the auditor reads without buttons; a doctor has no inventory pages
    audit = inv.clin.world.client("qian").get(f"/inventory/high-risk/?institution={inv.clinic.jia.pk}")
    assert audit.status_code == 200 and "提交出库申请" not in audit.content.decode()
    assert "立即对账" not in audit.content.decode()
    assert inv.clin.world.client("li").get("/inventory/high-risk/").status_code == 403


def test_the_cabinet_page_in_english(inv: Inv):
    inv.box(1)
    page = inv.clin.world.client("zhao").get("/inventory/high-risk/", HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert page.status_code == 200
    assert (
        "High-risk drug cabinet" in text
        and "Submit the issue request" in text
        and "Daily reconciliation" in text
    )
