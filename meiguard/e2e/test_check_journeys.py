"""Point-of-care check in a real browser: an authorized case is allowed; once the compliance officer suspends
the authorization on its page, the same check is denied with AUTHORIZATION_SUSPENDED.

Each journey also checks the decision log rows behind what the page showed.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from meiguard.audit.models import AuditEntry
from meiguard.authz.models import Authorization, DecisionLog

from .conftest import login, tablet
from .helpers import PROCEDURE, result, run_check, shown_log_id


def test_compliance_officer_checks_an_authorized_case_and_it_is_allowed(page, clinic, shot):
    login(page, "zhao")
    run_check(page, clinic)

    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✓\s*允许$"))
    expect(verdict).to_contain_text("李医生 · 甲诊所")
    expect(verdict).to_contain_text(PROCEDURE)
    expect(verdict).to_contain_text("没有发现问题:各项检查均已通过。")
    expect(verdict.get_by_role("link", name="查看详情与重放")).to_be_visible()
    png = shot(page, "check-allowed")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The log holds exactly what the page showed: one UI decision by zhao, allowed, no reasons.
    rows = list(DecisionLog.objects.all())
    assert len(rows) == 1
    row = rows[0]
    assert row.pk == shown_log_id(page)
    assert (row.outcome, row.reason_codes, row.channel) == ("allow", [], "ui")
    assert (row.practitioner_id, row.institution_id, row.procedure_code) == (
        clinic.li.pk,
        clinic.jia.pk,
        PROCEDURE,
    )
    assert row.asked_by == clinic.world.users["zhao"]
    assert row.request["products"][0]["lot_id"] == clinic.lot.pk


def test_suspending_the_authorization_in_the_ui_makes_the_same_check_deny(page, clinic, shot):
    auth = clinic.auths["procedure"]
    login(page, "zhao")

    # The authorization archive → this authorization's page.
    page.goto("/authz/check/")
    page.get_by_role("link", name="授权档案").click()
    expect(page.get_by_role("heading", name="授权档案", level=1)).to_be_visible()
    page.get_by_role("link", name=f"#{auth.pk}", exact=True).click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"授权 #{auth.pk}")
    expect(heading).to_contain_text("生效")

    page.get_by_label("原因").fill("年度审查发现培训证书待补")
    page.get_by_role("button", name="暂停", exact=True).click()
    expect(page.get_by_text("授权状态已更新")).to_be_visible()
    expect(heading).to_contain_text("暂停")
    expect(page.get_by_text("年度审查发现培训证书待补").first).to_be_visible()
    shot(page, "authorization-suspended")

    auth.refresh_from_db()
    assert (auth.status, auth.status_reason) == ("suspended", "年度审查发现培训证书待补")
    entry = AuditEntry.objects.get(
        object_type="authz.authorization", object_id=str(auth.pk), action="authz.authorization.suspended"
    )
    assert entry.reason == "年度审查发现培训证书待补"

    # Back to the check, on a tablet this time: same question, now refused because of the suspension.
    tablet(page)
    run_check(page, clinic)
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✗\s*不允许$"))
    reason = verdict.get_by_role("listitem").filter(has_text="AUTHORIZATION_SUSPENDED")
    expect(reason).to_contain_text(f"授权 #{auth.pk} 已暂停")
    expect(reason).to_contain_text("禁止")
    shot(page, "check-denied-tablet")
    no_sideways_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways_scroll, "the check page scrolls sideways at tablet width (768px)"

    row = DecisionLog.objects.get(pk=shown_log_id(page))
    assert row.outcome == "deny"
    assert "AUTHORIZATION_SUSPENDED" in row.reason_codes
    suspended = [r for r in row.reasons if r["code"] == "AUTHORIZATION_SUSPENDED"]
    assert suspended and suspended[0]["severity"] == "deny"
    assert row.asked_by == clinic.world.users["zhao"]
    assert DecisionLog.objects.count() == 1
    assert Authorization.objects.get(pk=auth.pk).status == "suspended"
