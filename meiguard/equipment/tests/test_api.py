"""/api/v1/equipment: strict schemas, the error envelope, pagination, tenancy."""

from __future__ import annotations

import json

import pytest

from meiguard.equipment.models import UpkeepRecord

from .conftest import ENGINEER, TODAY

pytestmark = pytest.mark.django_db
BASE = "/api/v1/equipment"


def _post(client, url: str, body: dict) -> object:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _body(clinic, **changes) -> dict:
    body = {
        "kind": "inspection",
        "performed_on": TODAY.isoformat(),
        "result": "pass",
        "performer": "staff",
        "performed_by_id": clinic.world.users["wang"].pk,
    }
    body.update(changes)
    return body


def test_it_records_and_reads_back(clinic):
    wang = clinic.world.client("wang")
    url = f"{BASE}/devices/{clinic.device.pk}/records"
    r = _post(wang, url, _body(clinic, result="fail", findings="输出偏差"))
    assert r.status_code == 201, r.content
    rec = r.json()
    assert rec["status_after"] == "failed_check" and rec["kind"] == "inspection"
    r = wang.get(f"{BASE}/devices/{clinic.device.pk}")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "failed_check" and data["upkeep_state"] == "out_of_service"
    assert data["energy_device"] is True
    assert data["policy_inspection"]["days"] == 30
    assert data["policy_inspection"]["rule_id"] == "INST.device-inspection-days"
    assert "机构规范模板" in data["policy_inspection"]["source"]
    r = wang.get(f"{url}?limit=1")
    assert r.status_code == 200 and r.json()["count"] == 1
    assert wang.get(f"{BASE}/records/{rec['id']}").json()["findings"] == "输出偏差"
    r = wang.get(f"{BASE}/devices?state=out_of_service")
    assert [d["id"] for d in r.json()["items"]] == [clinic.device.pk]
    assert wang.get(f"{BASE}/devices?state=ok").json()["count"] == 0


def test_strict_schema_and_precise_errors(clinic):
    wang = clinic.world.client("wang")
    url = f"{BASE}/devices/{clinic.device.pk}/records"
    r = _post(wang, url, _body(clinic, extra=1))
    assert r.status_code == 422 and r.json()["field"] == "extra"
    r = _post(wang, url, _body(clinic, kind="polish"))
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = _post(wang, url, _body(clinic, performed_on=20260303))
    assert r.status_code == 422 and r.json()["field"] == "performed_on"
    r = _post(wang, url, _body(clinic, findings="x" * 4001))
    assert r.status_code == 422 and r.json()["field"] == "findings"
    r = _post(wang, url, _body(clinic, result="fail"))
    assert r.status_code == 422 and r.json()["field"] == "findings"
    assert "不合格" in r.json()["message"]
    r = wang.post(
        url,
        data=json.dumps(_body(clinic, kind="calibration")),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 422 and r.json()["field"] == "performer"
    assert "engineer" in r.json()["message"]
    assert _post(wang, url, _body(clinic, kind="calibration", **ENGINEER)).status_code == 201
    assert wang.get(f"{BASE}/devices?limit=0").status_code == 422
    assert UpkeepRecord.objects.count() == 1


def test_tenancy_and_roles(clinic):
    url = f"{BASE}/devices/{clinic.device.pk}/records"
    sun = clinic.world.client("sun")
    assert sun.get(f"{BASE}/devices/{clinic.device.pk}").status_code == 404
    r = _post(sun, url, _body(clinic))
    assert r.status_code == 404 and r.json()["field"] == "device_id"
    assert sun.get(f"{BASE}/devices").json()["count"] == 0
    qian = clinic.world.client("qian")  # the association's auditor reads 甲's file, never writes
    assert qian.get(f"{BASE}/devices/{clinic.device.pk}").status_code == 200
    assert _post(qian, url, _body(clinic)).status_code == 403
    assert _post(clinic.world.client("li"), url, _body(clinic)).status_code == 403
    assert not UpkeepRecord.objects.exists()
