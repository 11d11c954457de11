"""The complaints API: intake, the workflow, detail with both clocks and the timeline; strict schemas and the
error envelope (422 / 403 / 404 / 409); tenancy (another institution sees nothing, the association only what is
escalated to it)."""

from __future__ import annotations

import json

import pytest

from .conftest import NAME, PHONE

pytestmark = pytest.mark.django_db
BASE = "/api/v1/complaints"


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _body(clin, **kw):
    data = {
        "institution_id": clin.clinic.jia.pk,
        "channel": "walk_in",
        "category": "outcome",
        "complainant_name": NAME,
        "complainant_contact": PHONE,
        "description": "填充后不对称",
    }
    data.update(kw)
    return data


def test_intake_and_the_whole_path_over_the_api(clin, clock):
    zhao = clin.world.client("zhao")
    r = _post(zhao, BASE, _body(clin, multi_department=True))
    assert r.status_code == 200, r.content
    c = r.json()
    assert c["tracking_no"].startswith("TS20261204") and c["status"] == "received"
    assert c["owner_name"] == "zhao" and c["complainant_name"] == NAME
    assert c["acknowledgement"]["state"] == "running"
    assert c["resolution_clock"]["due_at"] == "2026-12-18T16:00:00Z"  # 10 working days: 12-19 00:00 local
    assert "医疗机构投诉管理办法" in c["source"]
    pk = c["id"]
    for step, payload in [
        ("acknowledge", {"note": "已回复"}),
        ("investigate", {}),
        ("notes", {"note": "复诊评估"}),
        ("resolve", {"resolution_text": "免费修复\n并致歉"}),
        ("close", {"satisfaction": 5}),
    ]:
        r = _post(zhao, f"{BASE}/{pk}/{step}", payload)
        assert r.status_code == 200, (step, r.content)
    c = r.json()
    assert c["status"] == "closed" and c["satisfaction"] == 5
    assert [e["kind"] for e in c["events"]] == [
        "received",
        "acknowledged",
        "investigating",
        "note",
        "resolved",
        "closed",
    ]
    assert zhao.get(f"{BASE}?status=closed").json()["count"] == 1
    assert zhao.get(f"{BASE}?sla=on_time").json()["count"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "public"}, "channel"),
        ({"category": "x"}, "category"),
        ({"complainant_name": ""}, "complainant_name"),
        ({"complainant_name": "x" * 65}, "complainant_name"),
        ({"description": "x" * 4001}, "description"),
        ({"satisfaction": 7}, "satisfaction"),
        ({"received_at": "2027-01-01T00:00:00+08:00"}, "received_at"),
        ({"received_at": 1764800000}, "received_at"),
        ({"practitioner_ids": [0]}, "practitioner_ids"),
        ({"surprise": 1}, "surprise"),
        ({"institution_id": "abc"}, "institution_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(clin, clock, change, field):
    r = _post(clin.world.client("zhao"), BASE, _body(clin, **change))
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["code"] and body["message"]
    fields = {body.get("field")} | {e.get("field") for e in body.get("errors", [])}
    assert any(f and f.startswith(field) for f in fields), body


def test_on_spot_without_confirmation_is_a_422(clin, clock):
    r = _post(clin.world.client("zhao"), BASE, _body(clin, on_spot=True, resolution_text="当场致歉"))
    assert r.status_code == 422 and r.json()["field"] == "complainant_confirmed"


def test_wrong_state_is_a_409_and_not_owner_is_a_403(clin, clock):
    zhao, zhang = clin.world.client("zhao"), clin.world.client("zhang")
    pk = _post(zhang, BASE, _body(clin)).json()["id"]
    r = _post(zhao, f"{BASE}/{pk}/resolve", {"resolution_text": "x"})
    assert r.status_code == 409 and r.json()["code"] == "COMPLAINT_STATE"
    r = _post(zhao, f"{BASE}/{pk}/close", {"satisfaction": 3})
    assert r.status_code == 409
    r = _post(zhang, f"{BASE}/{pk}/handover", {"to_user_id": clin.world.users["li"].pk, "reason": "主诊解释"})
    assert r.status_code == 200 and r.json()["owner_name"] == "li"
    r = _post(zhang, f"{BASE}/{pk}/acknowledge", {})
    assert r.status_code == 403 and r.json()["code"] == "COMPLAINT_NOT_OWNER"
    r = _post(zhao, f"{BASE}/{pk}/handover", {"to_user_id": clin.world.users["li"].pk, "reason": "x"})
    assert r.status_code == 409 and r.json()["code"] == "ALREADY_OWNER"
    r = _post(zhao, f"{BASE}/{pk}/handover", {"to_user_id": 2**60, "reason": "x"})
    assert r.status_code == 422


def test_another_institution_sees_nothing_and_the_association_only_what_is_escalated(clin, clock):
    zhao, sun, qian = (clin.world.client(n) for n in ("zhao", "sun", "qian"))
    a = _post(zhao, BASE, _body(clin)).json()["id"]
    b = _post(zhao, BASE, _body(clin)).json()["id"]
    assert sun.get(f"{BASE}/{a}").status_code == 404
    assert sun.get(BASE).json()["count"] == 0
    assert _post(sun, f"{BASE}/{a}/acknowledge", {}).status_code == 404
    r = _post(sun, BASE, _body(clin))  # taking a complaint for 甲
    assert r.status_code == 404 and r.json()["field"] == "institution_id"
    assert qian.get(f"{BASE}/{a}").status_code == 404
    assert qian.get(BASE).json()["count"] == 0
    r = _post(zhao, f"{BASE}/{a}/escalate", {"reason": "协商未果"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert [i["id"] for i in qian.get(BASE).json()["items"]] == [a]
    assert qian.get(f"{BASE}/{b}").status_code == 404
    r = _post(qian, f"{BASE}/{a}/notes", {"note": "协会已受理调解"})
    assert r.status_code == 200
    r = _post(qian, f"{BASE}/{a}/withdraw", {"reason": "x"})
    assert r.status_code == 403
    r = _post(qian, f"{BASE}/{a}/resolve", {"resolution_text": "调解达成一致"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert sun.get(f"{BASE}/{a}").status_code == 404


def test_a_doctor_sees_only_the_complaints_he_took_or_owns(clin, clock):
    zhao, li = clin.world.client("zhao"), clin.world.client("li")
    _post(zhao, BASE, _body(clin))
    mine = _post(li, BASE, _body(clin)).json()["id"]
    assert [i["id"] for i in li.get(BASE).json()["items"]] == [mine]
    assert zhao.get(BASE).json()["count"] == 2


def test_anonymous_is_401(clin):
    from django.test import Client

    assert Client().get(BASE).status_code == 401
