"""Apply → three-step approval → active → the check allows, in a real browser, each person signing in
through the login form.

李医生's old 衡力 product authorization was revoked, so today the Check page refuses his botulinum-toxin
injection from lot B2026001 (AUTHORIZATION_REVOKED). He applies for a new 衡力 product authorization: 衡力
is flagged high-risk, so the application is HIGH risk and its route has three steps — 医务科 (zhou),
授权专员 (zhao) and the expert committee (2 of wang, zhao, 何医生). He attaches a PDF, reads the
what's-missing preview (three steps, two kinds of evidence still missing, nothing the engine would deny) and
submits. Each approver approves from 待我审批; after the first committee vote the application is still in
review, after the second it is approved and links a new, active authorization. The same check then shows
允许. Every step is checked in the database too.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import Page, expect

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions as authz_actions
from meiguard.authz.models import DecisionLog
from meiguard.authz.tests.conftest import SYSTEM
from meiguard.core.choices import Role
from meiguard.workflow import actions as workflow
from meiguard.workflow.models import Application, ApprovalStep, ApprovalVote, Evidence

from .conftest import login
from .helpers import add_staff, result, run_check, shown_log_id, switch_user

# A one-page PDF (what a scanned training certificate would be; the server checks extension and size).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
STAGES = ["medical_director", "compliance_officer", "expert_committee"]


def _prepare(clinic) -> None:
    """The approvers (a medical director, a doctor on the committee), the committee, and the revocation."""
    world = clinic.world
    add_staff(world, "zhou", Role.MEDICAL_DIRECTOR)
    add_staff(world, "he", Role.DOCTOR)
    workflow.save_committee(
        world.actor("wang"),
        institution_id=clinic.jia.pk,
        name="医疗技术临床应用管理委员会",
        quorum=2,
        member_ids=[world.users[name].pk for name in ("wang", "zhao", "he")],
    )
    authz_actions.change_status(
        SYSTEM, clinic.auths["product"].pk, action="revoke", reason="年度复核:培训记录不全,须重新申请"
    )


def _approve_from_inbox(page: Page, app: Application, stage_label: str, comment: str) -> None:
    """The signed-in approver opens 待我审批, picks the application and approves its open step."""
    page.goto("/applications/")
    page.get_by_role("navigation", name="授权申请").get_by_role("link", name="待我审批").click()
    expect(page.get_by_role("heading", name="待我审批", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{app.pk}", exact=True))
    expect(row).to_contain_text(stage_label)
    expect(row).to_contain_text("高风险")
    row.get_by_role("link", name="审批", exact=True).click()
    expect(page.get_by_role("heading", name=stage_label, level=2)).to_be_visible()
    page.get_by_role("radio", name="同意").check()
    page.get_by_label("意见说明").fill(comment)
    page.get_by_role("button", name="提交审批意见").click()
    expect(page.get_by_text("审批意见已提交")).to_be_visible()


def test_a_high_risk_application_is_approved_in_three_steps_and_the_check_then_allows(page, clinic, shot):
    _prepare(clinic)
    today = timezone.localdate()
    at = f"{today.isoformat()}T10:00"
    until = today.replace(year=today.year + 2) - dt.timedelta(days=1)

    # Before: the revoked authorization makes the Check page refuse the injection.
    login(page, "li")
    run_check(page, clinic, at=at)
    expect(result(page).get_by_role("heading")).to_have_text(re.compile(r"✗\s*不允许$"))
    expect(result(page)).to_contain_text("AUTHORIZATION_REVOKED")
    shot(page, "check-denied-before")

    # 李医生 files the application for himself.
    page.goto("/applications/")
    page.get_by_role("navigation", name="授权申请").get_by_role("link", name="新建申请").click()
    expect(page.get_by_role("heading", name="新建授权申请", level=1)).to_be_visible()
    expect(page.get_by_label("申请机构")).to_have_value(str(clinic.jia.pk))  # his only institution
    expect(page.get_by_label("申请授权人员")).to_have_value(str(clinic.li.pk))  # himself
    page.get_by_label("授权类型").select_option("product")
    page.get_by_label("产品品牌").fill("衡力")
    expect(page.get_by_label("申请生效日期")).to_have_value(today.isoformat())
    page.get_by_label("申请截止日期").fill(until.isoformat())
    page.get_by_label("申请理由").fill("已完成衡力注射复训,申请恢复产品授权")
    shot(page, "application-form")
    page.get_by_role("button", name="保存草稿").click()

    expect(page.get_by_text("申请草稿已保存")).to_be_visible()
    app = Application.objects.get()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"授权申请 #{app.pk}")
    expect(heading).to_contain_text("草稿")
    expect(heading).to_contain_text("高风险")
    risk = page.get_by_role("region", name=re.compile("风险等级"))
    expect(risk).to_contain_text("PRODUCT_HIGH_RISK")
    assert (app.status, app.risk_level, app.kind, app.product_brand) == ("draft", "high", "product", "衡力")
    assert (app.practitioner_id, app.applicant_id) == (clinic.li.pk, clinic.world.users["li"].pk)

    # Evidence: the training certificate as a PDF, through the file input.
    page.get_by_label("材料类型").select_option("training")
    page.get_by_label("文件(PDF、JPG、PNG)").set_input_files(
        {"name": "衡力注射培训合格证.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label(re.compile(r"^说明")).fill("2026 年厂家复训")
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.get_by_text("材料已上传")).to_be_visible()
    evidence = page.get_by_role("region", name="申请材料")
    expect(evidence.get_by_role("link", name="衡力注射培训合格证.pdf")).to_be_visible()
    (item,) = Evidence.objects.filter(application=app)
    assert (item.kind, item.original_name, item.uploaded_by_id) == (
        "training",
        "衡力注射培训合格证.pdf",
        clinic.world.users["li"].pk,
    )
    assert item.file.read() == PDF

    # What's missing: nothing the engine would deny, two kinds of evidence, and a three-step route.
    preview = page.locator("#missing-preview")
    expect(preview).to_contain_text("按当前登记信息,批准后核验即可通过。")
    missing = preview.get_by_role("list").filter(has_text="缺")
    expect(missing.get_by_role("listitem")).to_have_count(2)
    expect(missing).to_contain_text("certificate")
    expect(missing).to_contain_text("case_log")
    expect(missing).not_to_contain_text("training")
    route = preview.get_by_role("list").filter(has_text="医务科审核")
    expect(route.get_by_role("listitem")).to_have_count(3)
    expect(route.get_by_role("listitem").nth(0)).to_contain_text("医务科审核")
    expect(route.get_by_role("listitem").nth(1)).to_contain_text("授权专员审核")
    expect(route.get_by_role("listitem").nth(2)).to_contain_text("专家委员会评审 · 3 名可投票委员中 2 名同意")
    shot(page, "draft-with-preview")

    page.get_by_role("button", name="提交审批").click()
    expect(page.get_by_text("申请已提交,等待审批")).to_be_visible()
    expect(heading).to_contain_text("审批中")
    shot(page, "submitted")
    app.refresh_from_db()
    assert app.status == "in_review"
    steps = list(ApprovalStep.objects.filter(application=app, round=app.round).order_by("order"))
    assert [s.stage for s in steps] == STAGES  # the route really has three steps
    assert [s.status for s in steps] == ["open", "waiting", "waiting"]
    assert steps[2].required_approvals == 2 and steps[2].pool_size == 3

    # Step 1: the medical director.
    switch_user(page, "zhou")
    _approve_from_inbox(page, app, "医务科审核", "执业范围与培训记录相符")
    shot(page, "step1-approved")
    assert [s.status for s in ApprovalStep.objects.filter(application=app).order_by("order")] == [
        "approved",
        "open",
        "waiting",
    ]

    # Step 2: the compliance officer.
    switch_user(page, "zhao")
    _approve_from_inbox(page, app, "授权专员审核", "产品注册证与经销授权在有效期内")
    shot(page, "step2-approved")

    # Step 3: the committee — one approval is not the quorum.
    switch_user(page, "wang")
    _approve_from_inbox(page, app, "专家委员会评审", "同意")
    expect(page.get_by_role("heading", level=1)).to_contain_text("审批中")
    committee = ApprovalStep.objects.get(application=app, stage="expert_committee")
    assert committee.status == "open" and committee.votes.count() == 1
    assert Application.objects.get(pk=app.pk).authorization_id is None
    shot(page, "committee-one-vote")

    switch_user(page, "he")
    _approve_from_inbox(page, app, "专家委员会评审", "同意,按说明书剂量使用")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("已批准")
    timeline = page.get_by_role("region", name="审批进度")
    for label in ("医务科审核", "授权专员审核", "专家委员会评审"):
        expect(timeline.get_by_role("listitem").filter(has_text=label).first).to_contain_text("通过")
    summary = page.get_by_role("region", name="申请内容")
    app.refresh_from_db()
    auth = app.authorization
    assert auth is not None
    link = summary.get_by_role("link", name=f"#{auth.pk}", exact=True)
    expect(link).to_be_visible()
    expect(summary).to_contain_text("生效")
    shot(page, "approved")

    assert app.status == "approved"
    steps = list(ApprovalStep.objects.filter(application=app).order_by("order"))
    assert [(s.stage, s.status) for s in steps] == [(stage, "approved") for stage in STAGES]
    assert [ApprovalVote.objects.filter(step=s, verdict="approve").count() for s in steps] == [1, 1, 2]
    assert (auth.status, auth.kind, auth.product_brand) == ("active", "product", "衡力")
    assert (auth.practitioner_id, auth.institution_id) == (clinic.li.pk, clinic.jia.pk)
    assert (auth.valid_from, auth.valid_until) == (today, until)
    assert AuditEntry.objects.filter(action="workflow.application.approved", object_id=str(app.pk)).exists()
    assert AuditEntry.objects.filter(action="authz.authorization.activated", object_id=str(auth.pk)).exists()

    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"授权 #{auth.pk}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("生效")
    shot(page, "authorization-active")

    # After: the same injection, asked by 李医生 on the Check page, is allowed.
    switch_user(page, "li")
    run_check(page, clinic, at=at)
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✓\s*允许$"))
    expect(verdict).to_contain_text("没有发现问题:各项检查均已通过。")
    shot(page, "check-allowed-after")
    row = DecisionLog.objects.get(pk=shown_log_id(page))
    assert (row.outcome, row.reason_codes, row.channel) == ("allow", [], "ui")
    assert row.asked_by == clinic.world.users["li"]
    before = DecisionLog.objects.exclude(pk=row.pk).get()
    assert before.outcome == "deny" and "AUTHORIZATION_REVOKED" in before.reason_codes
