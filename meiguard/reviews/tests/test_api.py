"""The reviews API: the happy path end to end, and precise 4xx answers (never a 500, never a partial write)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import Authorization
from meiguard.reviews.models import Campaign, Finding

from .conftest import deny_missing

API = "/api/v1/reviews"


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def qian(clinic):
    return clinic.world.client("qian")


def test_a_review_end_to_end(clinic, qian, django_capture_on_commit_callbacks):
    deny_missing(clinic)
    r = _post(qian, f"{API}/campaigns", {"institution_id": clinic.jia.pk, "period": "2026-Q1"})
    assert r.status_code == 201, r.content
    body = r.json()
    cid = body["id"]
    assert (body["kind"], body["starts_on"], body["ends_on"]) == ("association", "2026-01-01", "2026-03-31")
    assert body["counts"]["items"] > 12

    items = qian.get(f"{API}/campaigns/{cid}/items").json()
    denied = next(i for i in items if i["category"] == "denied_decisions")
    assert "李医生" in denied["title"] and denied["evidence"]["count"] == 1
    monthly = next(i for i in items if i["category"] == "monthly_check")
    assert monthly["institution_practice"] is True
    r = _post(qian, f"{API}/items/{monthly['id']}/ok", {"note": "已核对"})
    assert r.status_code == 200 and r.json()["status"] == "ok"

    r = _post(
        qian,
        f"{API}/campaigns/{cid}/findings",
        {"item_id": denied["id"], "description": "超范围注射", "severity": "high"},
    )
    assert r.status_code == 201, r.content
    fid = r.json()["id"]
    assert r.json()["practitioner_id"] == clinic.li.pk
    auth = clinic.auths["procedure"]
    with django_capture_on_commit_callbacks(execute=True):
        r = _post(
            qian,
            f"{API}/campaigns/{cid}/findings",
            {"authorization_id": auth.pk, "description": "暂停注射授权", "action": "suspend"},
        )
    assert r.status_code == 201 and r.json()["action"] == "suspend"
    assert Authorization.objects.get(pk=auth.pk).status == AuthorizationStatus.SUSPENDED
    decision = _post(clinic.world.client("li"), "/api/v1/decisions", clinic.payload()).json()
    assert decision["allowed"] is False
    assert "AUTHORIZATION_SUSPENDED" in {x["code"] for x in decision["reasons"]}

    r = _post(qian, f"{API}/findings/{fid}/action", {"action": "retrain", "due_date": "2026-12-31"})
    assert r.status_code == 200 and r.json()["due_date"] == "2026-12-31"
    r = _post(qian, f"{API}/findings/{fid}/close", {"note": "已完成再培训"})
    assert r.status_code == 200 and r.json()["status"] == "closed"

    listed = qian.get(f"{API}/campaigns", {"status": "open", "period": "2026-Q1"}).json()
    assert listed["count"] == 1 and listed["items"][0]["open_findings"] == 1
    assert listed["items"][0]["institution"] == "甲诊所"
    r = _post(
        qian, f"{API}/campaigns/{cid}/close", {"summary": "一项暂停授权", "note": "暂停的授权待医务科复核"}
    )
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert qian.get(f"{API}/campaigns", {"status": "open"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"period": "2026-Q5"}, 422, "period"),
        ({"period": "Q4-2026"}, 422, "period"),
        ({"kind": "audit"}, 422, "kind"),
        ({"institution_id": 0}, 422, "institution_id"),
        ({"institution_id": 10**9}, 404, "institution_id"),
    ],
)
def test_creating_a_campaign_with_bad_input_is_a_precise_4xx(clinic, qian, body, status, field):
    payload = {"institution_id": clinic.jia.pk, "period": "2026-Q1", **body}
    r = _post(qian, f"{API}/campaigns", payload)
    assert r.status_code == status, r.content
    assert r.json()["field"] == field
    assert not Campaign.objects.exists()


def test_a_second_campaign_for_the_same_quarter_is_a_conflict(clinic, qian):
    payload = {"institution_id": clinic.jia.pk, "period": "2026-Q1", "build": False}
    assert _post(qian, f"{API}/campaigns", payload).status_code == 201
    r = _post(qian, f"{API}/campaigns", payload)
    assert (r.status_code, r.json()["code"]) == (409, "CAMPAIGN_EXISTS")


def test_finding_errors(clinic, qian, campaign):
    url = f"{API}/campaigns/{campaign.pk}/findings"
    r = _post(qian, url, {"description": ""})
    assert r.status_code == 422 and r.json()["field"] == "description"
    r = _post(qian, url, {"description": "x", "item_id": 10**9})
    assert (r.status_code, r.json()["field"]) == (404, "item_id")
    r = _post(qian, url, {"description": "x", "practitioner_id": clinic.li.pk, "action": "suspend"})
    assert (r.status_code, r.json()["field"]) == (422, "authorization_id")
    r = _post(qian, url, {"description": "x", "severity": "fatal"})
    assert (r.status_code, r.json()["field"]) == (422, "severity")
    r = _post(qian, url, {"description": "x", "due_date": "2026-02-30"})
    assert (r.status_code, r.json()["field"]) == (422, "due_date")
    assert not Finding.objects.exists()

    fid = _post(qian, url, {"description": "x", "practitioner_id": clinic.li.pk, "action": "retrain"}).json()[
        "id"
    ]
    r = _post(qian, f"{API}/findings/{fid}/action", {"action": "warn"})
    assert (r.status_code, r.json()["code"]) == (409, "ACTION_NOT_ESCALATED")
    r = _post(qian, f"{API}/findings/{fid}/action", {"action": "sack"})
    assert (r.status_code, r.json()["field"]) == (422, "action")
    r = _post(qian, f"{API}/findings/{fid}/close", {"note": ""})
    assert (r.status_code, r.json()["field"]) == (422, "note")
    r = _post(qian, f"{API}/findings/{10**9}/close", {"note": "x"})
    assert r.status_code == 404
    r = _post(qian, f"{API}/campaigns/{campaign.pk}/close", {})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "OPEN_FINDINGS", "note")


def test_anonymous_requests_are_401(clinic, campaign):
    assert Client().get(f"{API}/campaigns").status_code == 401
    assert _post(Client(), f"{API}/campaigns/{campaign.pk}/rebuild", {}).status_code == 401


def test_english_messages_with_accept_language(clinic, qian, campaign):
    r = qian.post(
        f"{API}/campaigns",
        data=json.dumps({"institution_id": clinic.jia.pk, "period": "2026-Q1", "build": False}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 409
    assert "already" in r.json()["message"]
