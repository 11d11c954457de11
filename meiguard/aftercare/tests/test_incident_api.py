"""The incident API: report (any staff), register visibility (managers see all, staff their own), grading and
submission by 医务科 / 授权专员 / admins only, seals with both parties, cluster check, escalation from a reaction,
report exports; strict schemas and the error envelope; tenancy (乙's admin cannot see or act)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from meiguard.aftercare.models import EvidenceSeal, Incident
from meiguard.audit.models import AuditEntry

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db
BASE = "/api/v1/aftercare/incidents"


def _post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def _body(clin, **kw):
    data = {
        "institution_id": clin.clinic.jia.pk,
        "kind": "device_ae",
        "grade": "II",
        "severity": "serious",
        "title": "射频治疗后二度烫伤",
        "description": "治疗后第二天复诊发现",
        "discovered_at": "2026-12-01T08:00:00+08:00",
        "device_id": clin.clinic.device.pk,
    }
    data.update(kw)
    return data


def test_staff_report_managers_see_the_register_staff_see_their_own(clin, clock, liu):
    w = clin.world
    zhang, li, zhao = w.client("zhang"), w.client("li"), w.client("zhao")
    r = _post(
        zhang, BASE, _body(clin, kind="hazard", grade="IV", severity=None, device_id=None, title="地面湿滑")
    )
    assert r.status_code == 200, r.content
    hazard = r.json()
    assert hazard["report"]["required"] is False and hazard["report"]["state"] == "none"
    assert hazard["reporter_name"] == "zhang" and "出处未经核实" in hazard["grading_source"]
    r = _post(li, BASE, _body(clin))
    assert r.status_code == 200
    device = r.json()
    assert device["product_id"] == clin.clinic.rf.pk  # the device names its product
    assert device["report"]["clock"] == "device-serious" and device["report"]["state"] == "due"
    due = dt.datetime.fromisoformat(device["report"]["due_at"].replace("Z", "+00:00"))
    assert due == dt.datetime.fromisoformat("2026-12-21T08:00:00+08:00")
    assert "医疗器械不良事件监测和再评价管理办法" in device["report"]["source"]
    assert zhao.get(BASE).json()["count"] == 2
    assert [i["id"] for i in zhang.get(BASE).json()["items"]] == [hazard["id"]]
    assert li.get(f"{BASE}/{hazard['id']}").status_code == 404  # not the nurse's report to read
    assert AuditEntry.objects.filter(action="aftercare.incident.reported").count() == 2


def test_grading_and_submitting_are_for_managers(clin, clock, liu):
    w = clin.world
    li, zhao = w.client("li"), w.client("zhao")
    pk = _post(li, BASE, _body(clin)).json()["id"]
    r = _post(li, f"{BASE}/{pk}/grade", {"grade": "I", "severity": "death"})
    assert r.status_code == 403 and r.json()["code"] == "INCIDENT_NEEDS_MANAGER"
    r = _post(zhao, f"{BASE}/{pk}/grade", {"grade": "I", "severity": "death"})
    assert r.status_code == 200 and r.json()["report"]["clock"] == "device-death"
    r = _post(li, f"{BASE}/{pk}/submit", {"submitted_at": "2026-12-01T10:00:00+08:00", "channel": "online"})
    assert r.status_code == 403
    r = _post(zhao, f"{BASE}/{pk}/close")
    assert r.status_code == 409 and r.json()["code"] == "REPORT_NOT_SUBMITTED"
    sub = {"submitted_at": "2026-12-01T08:30:00+08:00", "channel": "online", "reference": "MDAE-2026-0001"}
    r = _post(zhao, f"{BASE}/{pk}/submit", sub)
    assert r.status_code == 200
    rep = r.json()["report"]
    assert rep["state"] == "on_time" and rep["reference"] == "MDAE-2026-0001"
    assert _post(zhao, f"{BASE}/{pk}/submit", sub).json()["code"] == "ALREADY_SUBMITTED"
    r = _post(zhao, f"{BASE}/{pk}/grade", {"grade": "II", "severity": "serious"})
    assert r.status_code == 409 and r.json()["code"] == "REPORT_SUBMITTED"
    assert _post(zhao, f"{BASE}/{pk}/close").json()["status"] == "closed"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": "major"}, "severity"),  # not a device severity
        ({"kind": "hazard", "grade": "II", "severity": "none"}, "grade"),  # a hazard is grade IV
        ({"discovered_at": "2027-06-01T08:00:00+08:00"}, "discovered_at"),  # future
        ({"title": "  "}, "title"),
        ({"unknown": 1}, "unknown"),
        ({"grade": "V"}, "grade"),
        ({"device_id": 0}, "device_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(clin, clock, change, field):
    r = _post(clin.world.client("li"), BASE, _body(clin, **change))
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["field"] == field or any(e["field"] == field for e in body.get("errors", [])), body
    assert not Incident.objects.exists()


def test_another_institution_cannot_see_or_act(clin, clock):
    w = clin.world
    li, sun = w.client("li"), w.client("sun")
    pk = _post(li, BASE, _body(clin)).json()["id"]
    assert sun.get(f"{BASE}/{pk}").status_code == 404
    assert sun.get(BASE).json()["count"] == 0
    assert _post(sun, f"{BASE}/{pk}/grade", {"grade": "I", "severity": "death"}).status_code == 404
    r = _post(sun, f"{BASE}/{pk}/submit", {"submitted_at": "2026-12-01T08:30:00+08:00", "channel": "online"})
    assert r.status_code == 404
    assert sun.get(f"{BASE}/{pk}/report").status_code == 404
    r = _post(sun, BASE, _body(clin))  # reporting at 甲
    assert r.status_code == 404 and r.json()["field"] == "institution_id"
    r = _post(sun, BASE, _body(clin, institution_id=clin.clinic.yi.pk))  # 甲's device at 乙
    assert r.status_code == 404 and r.json()["field"] == "device_id"
    seal = {
        "items": ["药瓶"],
        "sealed_at": "2026-12-01T08:30:00+08:00",
        "place": "治疗室",
        "client_party_name": "王女士",
        "client_party_relation": "本人",
        "keeper": "医务科",
        "institution_confirmed": True,
        "client_confirmed": True,
    }
    assert _post(sun, f"{BASE}/{pk}/seals", seal).status_code == 404
    assert not EvidenceSeal.objects.exists()


def test_seal_and_unseal_with_both_parties(clin, clock):
    w = clin.world
    li = w.client("li")
    pk = _post(li, BASE, _body(clin, kind="drug_adr", severity="serious_new", device_id=None)).json()["id"]
    seal = {
        "items": ["衡力药瓶 1 支", "注射器 1 支"],
        "lot_id": clin.clinic.lot.pk,
        "sealed_at": "2026-12-01T08:30:00+08:00",
        "place": "治疗室 2",
        "client_party_name": "王女士",
        "client_party_relation": "本人",
        "keeper": "医务科",
        "institution_confirmed": True,
        "client_confirmed": False,
    }
    r = _post(li, f"{BASE}/{pk}/seals", seal)
    assert r.status_code == 422 and r.json()["field"] == "client_confirmed"
    r = _post(li, f"{BASE}/{pk}/seals", {**seal, "client_confirmed": True})
    assert r.status_code == 200, r.content
    s = r.json()
    assert s["institution_rep_name"] == "li" and s["unseal"] is None
    unseal = {
        "unsealed_at": "2026-12-01T08:20:00+08:00",
        "place": "医务科",
        "purpose": "送检",
        "client_party_name": "王女士",
        "client_party_relation": "本人",
        "institution_confirmed": True,
        "client_confirmed": True,
    }
    r = _post(li, f"{BASE}/seals/{s['id']}/unseal", unseal)
    assert r.status_code == 422 and r.json()["field"] == "unsealed_at"  # before the seal
    unseal["unsealed_at"] = "2026-12-01T08:50:00+08:00"
    r = _post(li, f"{BASE}/seals/{s['id']}/unseal", unseal)
    assert r.status_code == 200 and r.json()["unseal"]["purpose"] == "送检"
    assert _post(li, f"{BASE}/seals/{s['id']}/unseal", unseal).json()["code"] == "ALREADY_UNSEALED"
    row = EvidenceSeal.objects.get()
    with pytest.raises(ValueError):
        row.save()  # append-only
    codes = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"aftercare.evidenceseal.sealed", "aftercare.evidenceseal.unsealed"} <= codes


def test_escalating_a_reaction_prefills_the_incident_once(clin, clock, liu):
    from meiguard.aftercare.actions import report_reaction

    case = treat(clin, TOXIN)
    rx = report_reaction(clin.actor("li"), case_id=case.pk, grade="severe", description="血管栓塞征象")
    li = clin.world.client("li")
    r = _post(li, f"{BASE}/from-reaction/{rx.pk}", {})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["kind"] == "drug_adr" and body["case_id"] == case.pk and body["lot_id"] == clin.clinic.lot.pk
    assert body["reaction_id"] == rx.pk and body["description"] == "血管栓塞征象"
    assert body["report"]["clock"] == "drug-serious"
    r = _post(li, f"{BASE}/from-reaction/{rx.pk}", {})
    assert r.status_code == 409 and r.json()["code"] == "REACTION_ALREADY_ESCALATED"
    assert _post(clin.world.client("sun"), f"{BASE}/from-reaction/{rx.pk}", {}).status_code == 404


def test_cluster_check_and_report_exports(clin, clock, liu):
    zhao = clin.world.client("zhao")
    inst = clin.clinic.jia.pk
    r = _post(zhao, f"{BASE}/cluster", {"institution_id": inst, "product_id": clin.clinic.rf.pk})
    assert r.status_code == 409 and r.json()["code"] == "BELOW_CLUSTER_THRESHOLD"
    r = _post(zhao, f"{BASE}/cluster", {"institution_id": inst})
    assert r.status_code == 422
    for _n in range(3):
        _post(zhao, BASE, _body(clin))
    r = _post(zhao, f"{BASE}/cluster", {"institution_id": inst, "product_id": clin.clinic.rf.pk})
    assert r.status_code == 200
    cluster = r.json()
    assert cluster["is_cluster"] and len(cluster["member_incident_ids"]) == 3
    assert cluster["report"]["clock"] == "device-cluster"
    member = cluster["member_incident_ids"][0]
    r = zhao.get(f"{BASE}/{member}/report?format=xlsx")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    ws = load_workbook(io.BytesIO(r.content)).active
    values = {str(c.value) for row in ws.iter_rows() for c in row if c.value is not None}
    assert {"可疑医疗器械不良事件报告表", "国械注进20173091234", "Solta", "RF-0001"} <= values
    r = zhao.get(f"{BASE}/{member}/report")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert zhao.get(f"{BASE}/{member}/report?format=doc").status_code == 422


def test_dates_are_bounded(clin, clock):
    li = clin.world.client("li")
    r = _post(li, BASE, _body(clin, discovered_at=(T0 - dt.timedelta(days=800)).isoformat()))
    assert r.status_code == 422 and r.json()["field"] == "discovered_at"


def test_an_overseeing_auditor_reads_the_register_but_cannot_report_or_grade(clin, clock):
    w = clin.world
    pk = _post(w.client("li"), BASE, _body(clin)).json()["id"]
    qian = w.client("qian")
    assert qian.get(BASE).json()["count"] == 1
    assert qian.get(f"{BASE}/{pk}").status_code == 200
    r = _post(qian, BASE, _body(clin))
    assert r.status_code == 404 and r.json()["field"] == "institution_id"
    assert _post(qian, f"{BASE}/{pk}/grade", {"grade": "I", "severity": "death"}).status_code == 404
