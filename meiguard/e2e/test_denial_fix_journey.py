"""A denied check → "apply for this" → the application prefilled → approved → the re-check allows (issue 16).

李医生's 衡力 product authorization was revoked, so the Check page refuses his toxin injection. The verdict's
下一步 offers 申请 衡力 产品授权; the link opens the application form with the institution, 李医生, the kind
(产品授权) and the brand (衡力) already filled in. He adds the term and a reason, saves and submits on the
page. The three approval steps (not under test here; the application journey covers them on the pages) are
taken through the workflow's own action by zhou, zhao, wang and 何医生. The same check then shows 允许.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import expect

from meiguard.workflow import actions as workflow
from meiguard.workflow.models import Application, ApprovalStep

from .conftest import login
from .helpers import result, run_check
from .test_application_journey import _prepare


def test_a_denied_check_leads_to_a_prefilled_application_and_after_approval_the_check_allows(
    page, clinic, shot
):
    _prepare(clinic)
    today = timezone.localdate()
    at = f"{today.isoformat()}T10:00"
    until = today.replace(year=today.year + 2) - dt.timedelta(days=1)

    login(page, "li")
    run_check(page, clinic, at=at)
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"✗\s*不允许$"))
    fixes = page.get_by_role("region", name="下一步")
    apply = fixes.get_by_role("link", name="申请 衡力 产品授权")
    expect(apply).to_be_visible()
    expect(fixes.get_by_role("link", name=f"打开授权 #{clinic.auths['product'].pk}")).to_be_visible()
    shot(page, "denied-with-fixes")

    apply.click()
    expect(page.get_by_role("heading", name="新建授权申请", level=1)).to_be_visible()
    expect(page.get_by_label("申请机构")).to_have_value(str(clinic.jia.pk))
    expect(page.get_by_label("申请授权人员")).to_have_value(str(clinic.li.pk))
    expect(page.get_by_label("授权类型")).to_have_value("product")
    expect(page.get_by_label("产品品牌")).to_have_value("衡力")
    page.get_by_label("申请截止日期").fill(until.isoformat())
    page.get_by_label("申请理由").fill("已完成衡力注射复训,申请恢复产品授权")
    shot(page, "application-prefilled")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_text("申请草稿已保存")).to_be_visible()
    app = Application.objects.get()
    assert (app.kind, app.product_brand, app.practitioner_id, app.institution_id) == (
        "product",
        "衡力",
        clinic.li.pk,
        clinic.jia.pk,
    )
    page.get_by_role("button", name="提交审批").click()
    expect(page.get_by_text("申请已提交,等待审批")).to_be_visible()

    # The approvals, through the workflow's action (each a separate audited act by its own person).
    for name in ("zhou", "zhao", "wang", "he"):
        step = ApprovalStep.objects.get(application=app, status="open")
        workflow.act(clinic.world.actor(name), step.pk, verdict="approve", comment="同意")
    app.refresh_from_db()
    assert app.status == "approved" and app.authorization is not None
    assert app.authorization.status == "active"

    run_check(page, clinic, at=at)
    expect(result(page).get_by_role("heading", level=2).first).to_have_text(
        re.compile(r"核验结论:\s*✓\s*允许$")
    )
    expect(page.get_by_role("region", name="下一步")).to_have_count(0)
    shot(page, "recheck-allowed")
