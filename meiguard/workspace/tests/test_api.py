"""GET /api/v1/workspace/dashboard: the caller's panels as JSON, scoped like the page."""

from __future__ import annotations

import pytest

from .test_dashboard import data  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
URL = "/api/v1/workspace/dashboard"


def test_the_compliance_officer_gets_the_same_panels_as_on_the_page(clinic, data):  # noqa: F811
    body = clinic.world.client("zhao").get(URL).json()
    assert body["panels"] == [
        "approvals",
        "expiries",
        "denied",
        "reviews",
        "devices",
        "expiry_chart",
        "decision_chart",
    ]
    assert body["roles"] == ["compliance_officer"] and body["unavailable"] == []
    assert [b["count"] for b in body["expiries"]["buckets"]] == [1, 1, 1, 0]
    assert {i["label"].split()[-1] for i in body["expiries"]["soonest"] if i["kind"] == "lot"} == {"JIA-SOON"}
    assert body["approvals"]["count"] == 1
    assert body["approvals"]["items"][0]["url"] == f"/applications/{data.step.application_id}/"
    assert body["denied"]["count"] == 1 and body["denied"]["items"][0]["id"] == data.denied.pk
    assert body["reviews"]["items"][0]["campaign_id"] == data.campaign.pk
    assert len(body["expiry_chart"]) == 12 and sum(p["count"] for p in body["expiry_chart"]) >= 3
    assert len(body["decision_chart"]) == 12
    assert sum(w["denied"] for w in body["decision_chart"]) == 1
    assert sum(w["allowed"] for w in body["decision_chart"]) == 1
    assert body["capabilities"] is None and body["members"] is None


def test_the_outsider_gets_only_his_own(clinic, data):  # noqa: F811
    body = clinic.world.client("sun").get(URL).json()
    text = str(body)
    assert "JIA-SOON" not in text and "甲诊所" not in text and "李医生" not in text
    assert body["denied"]["count"] == 1 and body["denied"]["items"][0]["id"] == data.yi_denied.pk
    assert body["approvals"]["count"] == 0 and body["reviews"]["count"] == 0


def test_the_doctor_gets_his_capabilities_expiries_and_credits(clinic, data):  # noqa: F811
    from . import helpers as h

    h.cme(clinic, "6", "class_i")
    h.cme(clinic, "12", "class_ii")
    body = clinic.world.client("li").get(URL).json()
    assert body["panels"] == ["capabilities", "my_expiries", "cme", "aftercare"]
    assert body["aftercare"] == {"overdue": [], "today": [], "reactions": []}  # nothing treated yet
    place = body["capabilities"]["places"][0]
    assert place["institution"] == "甲诊所" and place["is_main"] is True
    assert "derm-botulinum-toxin-injection" in [c["procedure_code"] for c in place["allowed"]]
    assert {i["kind"] for i in body["my_expiries"]["soonest"]} == {"qualification", "authorization"}
    cme = body["cme"]
    assert (cme["required"], cme["counted"], cme["met"], cme["rule_id"]) == (
        "25.0",
        "18.0",
        False,
        "PR-08.cme-credits",
    )
    assert [(c["key"], c["earned"], c["met"]) for c in cme["classes"]] == [
        ("class_i", "6.0", True),
        ("class_ii", "12.0", False),
    ]


def test_the_auditor_gets_member_institutions(clinic, data):  # noqa: F811
    body = clinic.world.client("qian").get(URL).json()
    assert body["members"] == [
        {
            "institution_id": clinic.jia.pk,
            "institution": "甲诊所",
            "open_findings": 2,
            "last_campaign": {
                "id": data.campaign.pk,
                "period": "2025-Q1",
                "kind": "association",
                "status": "open",
                "ends_on": "2025-03-31",
            },
        }
    ]


def test_it_needs_authentication(clinic):
    from django.test import Client

    assert Client().get(URL).status_code == 401
