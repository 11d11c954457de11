"""The pages: lists and inbox, the form, detail with evidence and the htmx preview, approving, committees."""

from __future__ import annotations

from meiguard.workflow.models import Application, Evidence

from .conftest import BEYOND, END, HIGH, LOW, MEDIUM, START, pdf


def _form(wf, **changes) -> dict:
    data = {
        "institution": wf.jia.pk,
        "practitioner": wf.li.pk,
        "kind": "qualification",
        "procedure_code": LOW,
        "valid_from": START.isoformat(),
        "valid_until": END.isoformat(),
        "justification": "已完成进修",
    }
    data.update(changes)
    return data


def test_list_views_and_filters(wf):
    low = wf.submitted("li")
    high = wf.draft("li", procedure_code=HIGH)
    li = wf.client("li")
    page = li.get("/applications/").content.decode()
    assert f"#{low.pk}" in page and f"#{high.pk}" in page and "<caption" in page
    filtered = li.get("/applications/", {"risk": "high"}).content.decode()
    assert f"#{high.pk}" in filtered and f"#{low.pk}</a>" not in filtered
    assert li.get("/applications/", {"status": "bogus", "page": "99", "institution": "x"}).status_code == 200
    assert f"#{low.pk}" not in wf.client("sun").get("/applications/").content.decode()
    assert f"#{low.pk}" in wf.client("qian").get("/applications/").content.decode()
    mine = wf.client("zhou").get("/applications/", {"view": "to_approve"}).content.decode()
    assert f"#{low.pk}</a>" in mine and f"#{high.pk}</a>" not in mine


def test_inbox_lists_what_i_may_approve(wf):
    app = wf.submitted("li", procedure_code=MEDIUM)
    page = wf.client("zhou").get("/applications/inbox/").content.decode()
    assert f"/applications/{app.pk}/act/" in page and "李医生" in page
    assert (
        f"/applications/{app.pk}/act/" not in wf.client("zhao").get("/applications/inbox/").content.decode()
    )


def test_create_page(wf):
    li = wf.client("li")
    page = li.get("/applications/new/").content.decode()
    assert "李医生" in page and 'for="id_procedure_code"' in page
    resp = li.post("/applications/new/", _form(wf))
    app = Application.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/applications/{app.pk}/"
    assert app.applicant == wf.users["li"] and app.risk_level == "low"

    bad = li.post("/applications/new/", _form(wf, procedure_code="nope"))
    assert bad.status_code == 422 and "nope" in bad.content.decode()
    other = li.post("/applications/new/", _form(wf, practitioner=wf.sun_doctor.pk))
    assert other.status_code == 422  # not a choice offered to li
    assert Application.objects.count() == 1
    assert wf.client("qian").get("/applications/new/").status_code == 403


def test_detail_edit_and_access(wf):
    app = wf.draft("li")
    li = wf.client("li")
    page = li.get(f"/applications/{app.pk}/").content.decode()
    assert "提交审批" in page and f"/applications/{app.pk}/missing/" in page and "PROCEDURE_LOW_RISK" in page
    assert wf.client("zhou").get(f"/applications/{app.pk}/").status_code == 200
    assert wf.client("qian").get(f"/applications/{app.pk}/").status_code == 200
    assert wf.client("sun").get(f"/applications/{app.pk}/").status_code == 404
    assert wf.client("wang").get(f"/applications/{app.pk}/edit/").status_code == 403
    resp = li.post(f"/applications/{app.pk}/edit/", _form(wf, procedure_code=MEDIUM))
    assert resp.status_code == 302
    app.refresh_from_db()
    assert (app.procedure_code, app.risk_level) == (MEDIUM, "medium")


def test_missing_preview_fragment_and_page(wf):
    app = wf.draft("li", procedure_code=BEYOND)
    li = wf.client("li")
    fragment = li.get(f"/applications/{app.pk}/missing/", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert "PROCEDURE_GRADE_EXCEEDS_INSTITUTION" in body and "NO_COMMITTEE" in body
    assert "《医疗美容项目分级管理目录》" in body  # the grade rule's readable source, not its id
    assert "AUTHORIZATION_BEYOND_INSTITUTION" in body and "机构不能开展" in body
    full = li.get(f"/applications/{app.pk}/missing/").content.decode()
    assert "<html" in full and "PRACTITIONER_NOT_CHIEF_FOR_SUBJECT" in full
    assert wf.client("sun").get(f"/applications/{app.pk}/missing/").status_code == 404


def test_evidence_upload_download_and_remove(wf):
    app = wf.draft("li")
    li = wf.client("li")
    resp = li.post(
        f"/applications/{app.pk}/evidence/",
        {"kind": "certificate", "file": pdf("执业证书.pdf"), "note": "扫描件"},
    )
    assert resp.status_code == 302
    item = Evidence.objects.get()
    got = wf.client("zhou").get(f"/applications/{app.pk}/evidence/{item.pk}/file/")
    assert got.status_code == 200 and b"".join(got.streaming_content).startswith(b"%PDF")
    assert wf.client("sun").get(f"/applications/{app.pk}/evidence/{item.pk}/file/").status_code == 404
    bad = li.post(f"/applications/{app.pk}/evidence/", {"kind": "certificate"})
    assert bad.status_code == 422 and "请上传文件或关联一项资质" in bad.content.decode()
    assert (
        wf.client("wang")
        .post(f"/applications/{app.pk}/evidence/", {"kind": "certificate", "file": pdf()})
        .status_code
        == 403
    )
    assert li.post(f"/applications/{app.pk}/evidence/{item.pk}/remove/").status_code == 302
    item.refresh_from_db()
    assert item.removed_at is not None


def test_submit_act_and_stale_forms(wf):
    app = wf.draft("li")
    li = wf.client("li")
    assert li.post(f"/applications/{app.pk}/submit/").status_code == 302
    app.refresh_from_db()
    assert app.status == "in_review"
    step = app.steps.get()
    zhou, ma = wf.client("zhou"), wf.client("ma")
    form = zhou.get(f"/applications/{app.pk}/act/").content.decode()
    assert f'value="{step.pk}"' in form and 'name="verdict"' in form
    assert wf.client("zhao").get(f"/applications/{app.pk}/act/").status_code == 403
    assert li.get(f"/applications/{app.pk}/act/").status_code == 403

    missing_comment = zhou.post(f"/applications/{app.pk}/act/", {"step_id": step.pk, "verdict": "reject"})
    assert missing_comment.status_code == 422 and "驳回或退回时须填写意见" in missing_comment.content.decode()
    stale = ma.get(f"/applications/{app.pk}/act/")  # ma opens the form too
    assert stale.status_code == 200
    assert (
        zhou.post(f"/applications/{app.pk}/act/", {"step_id": step.pk, "verdict": "approve"}).status_code
        == 302
    )
    app.refresh_from_db()
    assert app.status == "approved"
    late = ma.post(f"/applications/{app.pk}/act/", {"step_id": step.pk, "verdict": "approve"})
    assert late.status_code == 409 and "不能再处理" in late.content.decode()
    assert wf.client("zhao").post(
        f"/applications/{app.pk}/act/", {"step_id": step.pk, "verdict": "approve"}
    ).status_code in (403, 409)
    page = li.get(f"/applications/{app.pk}/").content.decode()
    assert f"/authz/authorizations/{app.authorization_id}/" in page


def test_submit_refused_shows_the_reason(wf):
    app = wf.draft("li", procedure_code=HIGH)
    resp = wf.client("li").post(f"/applications/{app.pk}/submit/", follow=True)
    assert "专家委员会" in resp.content.decode()
    app.refresh_from_db()
    assert app.status == "draft"
    assert wf.client("zhou").post(f"/applications/{app.pk}/submit/").status_code == 403


def test_withdraw_page_action(wf):
    app = wf.submitted("li")
    assert wf.client("zhang").post(f"/applications/{app.pk}/withdraw/").status_code == 403
    assert (
        wf.client("li").post(f"/applications/{app.pk}/withdraw/", {"reason": "暂不开展"}).status_code == 302
    )
    app.refresh_from_db()
    assert app.status == "withdrawn"


def test_committee_page(wf):
    wang = wf.client("wang")
    page = wang.get("/applications/committee/").content.decode()
    assert "医疗技术临床应用管理委员会" in page and "zhou" in page
    members = [wf.users[n].pk for n in ("zhou", "zhao", "he")]
    resp = wang.post(
        f"/applications/committee/?institution={wf.jia.pk}",
        {"name": "专家委员会", "quorum": 2, "members": members, "is_active": "on"},
    )
    assert resp.status_code == 302
    assert "专家委员会" in wf.client("li").get("/applications/committee/").content.decode()
    too_many = wang.post(
        f"/applications/committee/?institution={wf.jia.pk}",
        {"name": "专家委员会", "quorum": 5, "members": members, "is_active": "on"},
    )
    assert too_many.status_code == 422
    assert wf.client("li").post("/applications/committee/", {"name": "x", "quorum": 1}).status_code == 403


def test_pages_in_english(wf):
    app = wf.draft("li")
    page = wf.client("li").get(f"/applications/{app.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Submit for approval" in page and "提交审批" not in page


def test_a_refused_draft_shows_the_reason_on_the_form(wf):
    resp = wf.client("li").post("/applications/new/", _form(wf, practitioner=""))
    assert resp.status_code == 403 and "医生和护士只能为本人申请授权" in resp.content.decode()
    assert not Application.objects.exists()


def test_admin_is_for_inspection_only(wf, admin_client):
    app = wf.submitted("li")
    wf.with_committee()
    assert admin_client.get("/admin/workflow/application/").status_code == 200
    page = admin_client.get(f"/admin/workflow/application/{app.pk}/change/")
    assert page.status_code == 200 and "医务科审核" in page.content.decode()
    assert admin_client.get("/admin/workflow/expertcommittee/").status_code == 200
    assert admin_client.get("/admin/workflow/application/add/").status_code == 403


def test_a_doctor_on_the_committee_casts_the_deciding_vote_on_the_page(wf):
    """On a page the actor is the request's lazy object; granting on its behalf once answered 500."""
    wf.with_committee(quorum=2)  # zhou, zhao, wang, he (a doctor, not an archive writer)
    app = wf.submitted("li", procedure_code=HIGH)
    app = wf.vote("ma", app)
    app = wf.vote("zhao", app)
    app = wf.vote("zhou", app)
    step = wf.open_step(app)
    resp = wf.client("he").post(f"/applications/{app.pk}/act/", {"step_id": step.pk, "verdict": "approve"})
    assert resp.status_code == 302
    app.refresh_from_db()
    assert app.status == "approved" and app.authorization.status == "active"
    assert app.authorization.granted_by_id == wf.users["he"].pk
