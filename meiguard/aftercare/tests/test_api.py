"""The aftercare API: follow-ups (mine / institution, outcome), reactions (report, steps, list, detail with the
clock), the lot flag; strict schemas and the error envelope; tenancy."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from meiguard.aftercare.models import AdverseReaction, FollowUp

from .conftest import T0, TOXIN, treat

pytestmark = pytest.mark.django_db
BASE = "/api/v1/aftercare"


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_my_follow_ups_and_recording_an_outcome_with_a_reaction(clin, clock):
    case = treat(clin, TOXIN)
    clock.set(T0 + dt.timedelta(hours=25))
    zhang, li = clin.world.client("zhang"), clin.world.client("li")
    r = zhang.get(f"{BASE}/follow-ups?mine=true&due=overdue")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1 and body["items"][0]["offset"] == "24h" and body["items"][0]["overdue"] is True
    assert "机构规范" in body["items"][0]["source"]
    assert li.get(f"{BASE}/follow-ups?mine=true&due=overdue").json()["count"] == 0  # the nurse's task
    r = li.get(f"{BASE}/follow-ups?institution_id={case.institution_id}&status=due")
    assert r.json()["count"] == 5
    fu = body["items"][0]["id"]
    r = _post(
        zhang,
        f"{BASE}/follow-ups/{fu}/outcome",
        {
            "reached": True,
            "recovery": "slow",
            "adverse_signs": True,
            "satisfaction": 3,
            "notes": "红肿",
            "reaction_grade": "moderate",
            "reaction_description": "感染倾向",
        },
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "done"
    rx = AdverseReaction.objects.get(case=case)
    r = li.get(f"{BASE}/reactions/{rx.pk}")
    assert r.status_code == 200
    detail = r.json()
    assert detail["clock"]["state"] == "running" and detail["clock"]["missing_steps"] == ["revisit"]
    assert detail["clock"]["seconds_left"] == 7200 and "工作计划" in detail["clock"]["source"]
    assert detail["lots"][0]["id"] == clin.clinic.lot.pk and detail["source"] == "follow_up"
    clock.advance(minutes=20)
    r = _post(li, f"{BASE}/reactions/{rx.pk}/steps", {"kind": "revisit", "note": "已复诊"})
    assert r.status_code == 200, r.json()
    detail = r.json()
    assert detail["clock"]["state"] == "on_time" and detail["steps"][0]["by_name"] == "李医生"
    r = li.get(f"{BASE}/reactions?clock=handled")
    assert r.json()["count"] == 1 and r.json()["items"][0]["clock"]["state_label"] == "按时处置"


def test_strict_schemas_and_the_envelope(clin, clock):
    case = treat(clin, TOXIN)
    zhang = clin.world.client("zhang")
    fu = FollowUp.objects.filter(case=case).first()
    r = _post(zhang, f"{BASE}/follow-ups/{fu.pk}/outcome", {"reached": True, "recovery": "good", "extra": 1})
    assert r.status_code == 422 and r.json()["field"] == "extra"
    r = _post(
        zhang, f"{BASE}/follow-ups/{fu.pk}/outcome", {"reached": True, "recovery": "good", "satisfaction": 6}
    )
    assert r.status_code == 422 and r.json()["field"] == "satisfaction"
    r = _post(zhang, f"{BASE}/follow-ups/{fu.pk}/outcome", {"reached": True})
    assert r.status_code == 422 and r.json()["field"] == "recovery"
    r = _post(zhang, f"{BASE}/reactions", {"case_id": case.pk, "grade": "terrible", "description": "x"})
    assert r.status_code == 422 and r.json()["field"] == "grade"
    r = _post(zhang, f"{BASE}/reactions", {"case_id": 2**60, "grade": "mild", "description": "x"})
    assert r.status_code == 422 and r.json()["field"] == "case_id"
    r = _post(
        zhang,
        f"{BASE}/reactions",
        {"case_id": case.pk, "grade": "mild", "description": "x", "source": "client"},
    )
    assert r.status_code == 422 and r.json()["field"] == "reporter_name"
    r = zhang.get(f"{BASE}/reactions?limit=5000")
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = _post(zhang, f"{BASE}/reactions", {"case_id": case.pk, "grade": "mild", "description": "红肿"})
    assert r.status_code == 200 and r.json()["source"] == "api"
    rx = r.json()["id"]
    r = _post(zhang, f"{BASE}/reactions/{rx}/steps", {"kind": "revisit"})
    assert r.status_code == 403 and r.json()["code"] == "STEP_NEEDS_DOCTOR"
    future = (T0 + dt.timedelta(hours=2)).isoformat()
    r = _post(zhang, f"{BASE}/reactions/{rx}/steps", {"kind": "guidance", "at": future})
    assert r.status_code == 422 and r.json()["field"] == "at"
    assert AdverseReaction.objects.count() == 1  # nothing half-written


def test_other_institutions_and_auditors(clin, clock):
    case = treat(clin, TOXIN)
    r = _post(
        clin.world.client("zhang"),
        f"{BASE}/reactions",
        {"case_id": case.pk, "grade": "mild", "description": "红肿"},
    )
    rx_id = r.json()["id"]
    sun = clin.world.client("sun")
    assert sun.get(f"{BASE}/reactions/{rx_id}").status_code == 404
    assert sun.get(f"{BASE}/reactions").json()["count"] == 0
    assert (
        _post(sun, f"{BASE}/reactions", {"case_id": case.pk, "grade": "mild", "description": "x"}).status_code
        == 404
    )
    qian = clin.world.client("qian")  # the association's auditor reads, never writes
    assert qian.get(f"{BASE}/reactions/{rx_id}").status_code == 200
    r = _post(qian, f"{BASE}/reactions/{rx_id}/steps", {"kind": "note"})
    assert r.status_code == 404


def test_a_lot_with_repeated_reactions_is_flagged(clin, clock):
    li = clin.world.client("li")
    lot = clin.clinic.lot.pk
    for _ in range(2):
        case = treat(clin, TOXIN)
        _post(li, f"{BASE}/reactions", {"case_id": case.pk, "grade": "mild", "description": "红肿"})
    r = li.get(f"{BASE}/lots/{lot}/reactions")
    assert r.json() == {"lot_id": lot, "reactions": 2, "threshold": 3, "window_days": 30, "flagged": False}
    case = treat(clin, TOXIN)
    _post(li, f"{BASE}/reactions", {"case_id": case.pk, "grade": "mild", "description": "红肿"})
    assert li.get(f"{BASE}/lots/{lot}/reactions").json()["flagged"] is True
    clock.advance(days=31)
    li = clin.world.client("li")  # a new session (the old one idled out)
    assert li.get(f"{BASE}/lots/{lot}/reactions").json()["reactions"] == 0
    assert clin.world.client("sun").get(f"{BASE}/lots/{lot}/reactions").status_code == 404
