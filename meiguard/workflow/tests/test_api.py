"""/api/v1/applications: the full flow over HTTP and every error in the one envelope."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from meiguard.core.tests.openapi_shapes import assert_documented
from meiguard.workflow.models import Application

from .conftest import HIGH, LOW, START, pdf

URL = "/api/v1/applications"


def _post(client: Client, url: str, body: dict | None = None, **extra):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **extra)


def _payload(wf, **changes) -> dict:
    body = {
        "institution_id": wf.jia.pk,
        "kind": "qualification",
        "practitioner_id": wf.li.pk,
        "procedure_code": LOW,
        "valid_from": START.isoformat(),
        "valid_until": "2028-11-30",
        "justification": "已完成进修",
    }
    body.update(changes)
    return body


def _envelope(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"code", "message", "field", "errors"}
    assert body["code"] == code, body
    return body


def test_the_whole_flow_over_http(wf):
    li, zhou = wf.client("li"), wf.client("zhou")
    resp = _post(li, URL, _payload(wf))
    assert resp.status_code == 201, resp.content
    app = resp.json()
    assert (app["status"], app["risk_level"], app["on_behalf"]) == ("draft", "low", False)
    assert app["risk_reasons"][0]["code"] == "PROCEDURE_LOW_RISK" and app["risk_reasons"][0]["message"]
    pk = app["id"]

    up = li.post(f"{URL}/{pk}/evidence", {"kind": "certificate", "note": "执业证书", "file": pdf()})
    assert up.status_code == 201, up.content
    assert up.json()["has_file"] and up.json()["download_url"].endswith("/file/")
    assert zhou.get(up.json()["download_url"]).status_code == 200

    missing = li.get(f"{URL}/{pk}/missing").json()
    assert missing["gaps"] == [] and missing["missing_evidence"] == ["case_log"] and missing["can_submit"]
    assert missing["route"] == [{"stage": "medical_director", "required": 1, "pool": 2}]

    sub = _post(li, f"{URL}/{pk}/submit")
    assert sub.status_code == 200 and sub.json()["status"] == "in_review"
    [step] = sub.json()["steps"]
    inbox_resp = zhou.get(f"{URL}/inbox")
    assert_documented(inbox_resp, "GET", "/api/v1/applications/inbox")
    inbox = inbox_resp.json()
    assert [i["application_id"] for i in inbox["items"]] == [pk]

    acted = _post(zhou, f"{URL}/{pk}/act", {"step_id": step["id"], "verdict": "approve", "comment": "同意"})
    assert acted.status_code == 200, acted.content
    assert_documented(acted, "POST", "/api/v1/applications/{application_id}/act")
    assert_documented(sub, "POST", "/api/v1/applications/{application_id}/submit")
    assert_documented(resp, "POST", "/api/v1/applications")
    body = acted.json()
    assert body["status"] == "approved" and body["authorization_id"]
    assert body["steps"][0]["votes"][0]["username"] == "zhou"
    auth = li.get(f"/api/v1/authorizations/{body['authorization_id']}").json()
    assert auth["status"] == "active" and auth["procedure_code"] == LOW

    listed = li.get(URL, {"view": "mine", "status": "approved"}).json()
    assert [a["id"] for a in listed["items"]] == [pk]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"valid_from": None}, "valid_from"),
        ({"valid_from": "2026-13-01"}, "valid_from"),
        ({"kind": "licence"}, "kind"),
        ({"max_grade": 7}, "max_grade"),
        ({"institution_id": "abc"}, "institution_id"),
        ({"favourite": "x"}, "favourite"),
        ({"subject": "beauty"}, "subject"),
    ],
)
def test_malformed_input_is_422_naming_the_field(wf, changes, field):
    body = _payload(wf, **changes)
    if changes.get("valid_from", "") is None:
        body.pop("valid_from")
    resp = _post(wf.client("li"), URL, body)
    env = _envelope(resp, 422, "INVALID")
    assert env["field"] == field, env
    assert Application.objects.count() == 0


def test_server_side_validation_is_422(wf):
    env = _envelope(_post(wf.client("li"), URL, _payload(wf, procedure_code="nope")), 422, "INVALID")
    assert env["field"] == "procedure_code" and "nope" in env["message"]


def test_invalid_json_is_a_4xx_not_a_500(wf):
    resp = wf.client("li").post(URL, data="{", content_type="application/json")
    assert resp.status_code in (400, 422)
    assert Application.objects.count() == 0


def test_unauthenticated_is_401(wf):
    _envelope(Client().get(URL), 401, "UNAUTHENTICATED")


def test_foreign_ids_are_404_and_wrong_people_403(wf):
    app = wf.submitted("li")
    step = wf.open_step(app)
    sun = wf.client("sun")
    _envelope(sun.get(f"{URL}/{app.pk}"), 404, "NOT_FOUND")
    _envelope(_post(sun, f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "approve"}), 404, "NOT_FOUND")
    _envelope(sun.get(f"{URL}/{app.pk}/missing"), 404, "NOT_FOUND")
    env = _envelope(_post(sun, URL, _payload(wf)), 404, "NOT_FOUND")
    assert env["field"] == "institution_id"

    env = _envelope(_post(wf.client("zhang"), URL, _payload(wf)), 403, "ONLY_SELF")
    assert "本人" in env["message"]
    _envelope(
        _post(wf.client("zhao"), f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "approve"}),
        403,
        "NOT_AN_APPROVER",
    )
    _envelope(
        _post(wf.client("li"), f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "approve"}),
        403,
        "SELF_APPROVAL",
    )
    other = wf.draft("li", procedure_code="derm-microneedling")
    env = _envelope(
        _post(wf.client("zhou"), f"{URL}/{other.pk}/act", {"step_id": step.pk, "verdict": "approve"}),
        404,
        "NOT_FOUND",
    )
    assert env["field"] == "step_id"  # a step of another application


def test_wrong_state_is_409_with_a_chinese_message_and_english_on_request(wf):
    li = wf.client("li")
    pk = _post(li, URL, _payload(wf)).json()["id"]
    assert _post(li, f"{URL}/{pk}/submit").status_code == 200
    env = _envelope(_post(li, f"{URL}/{pk}/submit"), 409, "INVALID_STATE")
    assert env["message"] == "申请当前状态为“审批中”,不能执行此操作"
    env = _envelope(_post(li, f"{URL}/{pk}/submit", HTTP_ACCEPT_LANGUAGE="en"), 409, "INVALID_STATE")
    assert "cannot" in env["message"].lower() and "审批中" not in env["message"]
    patch = li.patch(f"{URL}/{pk}", data=json.dumps({"justification": "x"}), content_type="application/json")
    _envelope(patch, 409, "INVALID_STATE")

    step = Application.objects.get(pk=pk).steps.get()
    zhou = wf.client("zhou")
    assert _post(zhou, f"{URL}/{pk}/act", {"step_id": step.pk, "verdict": "approve"}).status_code == 200
    env = _envelope(
        _post(wf.client("ma"), f"{URL}/{pk}/act", {"step_id": step.pk, "verdict": "approve"}),
        409,
        "STEP_NOT_OPEN",
    )
    assert "不能再处理" in env["message"]


def test_act_validation(wf):
    app = wf.submitted("li")
    step = wf.open_step(app)
    zhou = wf.client("zhou")
    env = _envelope(
        _post(zhou, f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "reject"}), 422, "INVALID"
    )
    assert env["field"] == "comment"
    env = _envelope(_post(zhou, f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "ok"}), 422, "INVALID")
    assert env["field"] == "verdict"
    ret = _post(zhou, f"{URL}/{app.pk}/act", {"step_id": step.pk, "verdict": "return", "comment": "补充病例"})
    assert ret.json()["status"] == "returned" and ret.json()["status_reason"] == "补充病例"


def test_patch_evidence_and_withdraw(wf):
    li = wf.client("li")
    pk = _post(li, URL, _payload(wf)).json()["id"]
    resp = li.patch(f"{URL}/{pk}", data=json.dumps({"procedure_code": HIGH}), content_type="application/json")
    assert resp.status_code == 200 and resp.json()["risk_level"] == "high"
    _envelope(
        wf.client("wang").patch(
            f"{URL}/{pk}", data=json.dumps({"justification": "x"}), content_type="application/json"
        ),
        403,
        "NOT_APPLICANT",
    )
    bad = li.post(f"{URL}/{pk}/evidence", {"kind": "certificate", "file": SimpleUploadedFile("a.exe", b"MZ")})
    assert _envelope(bad, 422, "INVALID")["field"] == "file"
    no_kind = li.post(f"{URL}/{pk}/evidence", {"file": pdf()})
    assert _envelope(no_kind, 422, "INVALID")["field"] == "kind"
    ok = li.post(f"{URL}/{pk}/evidence", {"kind": "case_log", "file": pdf("病例.pdf")})
    ev = ok.json()["id"]
    assert li.delete(f"{URL}/{pk}/evidence/{ev}").status_code == 204
    _envelope(li.delete(f"{URL}/{pk}/evidence/{ev}"), 404, "NOT_FOUND")
    assert li.get(f"{URL}/{pk}").json()["evidence"] == []
    done = _post(li, f"{URL}/{pk}/withdraw", {"reason": "暂不开展"})
    assert done.json()["status"] == "withdrawn"


def test_committee_endpoints(wf):
    body = {"name": "专家委员会", "quorum": 2, "member_ids": [wf.users["zhou"].pk, wf.users["he"].pk]}
    resp = wf.client("wang").put(
        f"{URL}/committees/{wf.jia.pk}", data=json.dumps(body), content_type="application/json"
    )
    assert resp.status_code == 200 and resp.json()["member_ids"] == sorted(body["member_ids"])
    assert [c["id"] for c in wf.client("li").get(f"{URL}/committees").json()] == [resp.json()["id"]]
    assert wf.client("sun").get(f"{URL}/committees").json() == []
    li_put = wf.client("li").put(
        f"{URL}/committees/{wf.jia.pk}", data=json.dumps(body), content_type="application/json"
    )
    _envelope(li_put, 403, "FORBIDDEN")
    sun_put = wf.client("sun").put(
        f"{URL}/committees/{wf.jia.pk}", data=json.dumps(body), content_type="application/json"
    )
    _envelope(sun_put, 404, "NOT_FOUND")
    bad = dict(body, quorum=3)
    _envelope(
        wf.client("wang").put(
            f"{URL}/committees/{wf.jia.pk}", data=json.dumps(bad), content_type="application/json"
        ),
        422,
        "INVALID",
    )
    outsider = dict(body, member_ids=[wf.users["sun"].pk])
    env = _envelope(
        wf.client("wang").put(
            f"{URL}/committees/{wf.jia.pk}", data=json.dumps(outsider), content_type="application/json"
        ),
        422,
        "INVALID",
    )
    assert env["field"] == "member_ids"
