"""Review campaigns in a real browser (moved here from ``meiguard/reviews/tests/test_browser.py`` so that every
browser test shares the one harness): the association auditor suspends an authorization from a review
finding and the same point-of-care check is then denied; on a 768 px tablet the review page does not scroll
sideways and marking a checklist item OK swaps the row in place (htmx)."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import expect

from meiguard.audit.models import AuditEntry
from meiguard.authz import actions as authz_actions
from meiguard.authz.models import Authorization, DecisionLog
from meiguard.reviews import actions
from meiguard.reviews.choices import ItemCategory
from meiguard.reviews.models import ChecklistItem, Finding

from .conftest import login, tablet
from .helpers import result, run_check, shown_log_id, switch_user

TODAY = dt.date(2026, 3, 10)  # inside 2026-Q1, a week after the clinic's reference day


def _review(clinic):
    # 李医生 tried a filler injection on the reference day, without an authorization for it: a denied decision
    # the review's checklist lists (as in meiguard/reviews/tests/conftest.py's ``deny_missing``).
    at = timezone.make_aware(dt.datetime(2026, 3, 3, 10, 0))
    asked = clinic.request(procedure_code="derm-filler-injection", products=(), device_ids=(), at=at)
    checked = authz_actions.check(clinic.world.actor("li"), asked)
    assert "AUTHORIZATION_MISSING" in checked.decision.codes()
    return actions.create_campaign(
        clinic.world.actor("qian"), institution_id=clinic.jia.pk, period="2026-Q1", today=TODAY
    )


def test_suspend_from_a_review_finding_then_the_check_denies(page, clinic, shot):
    _review(clinic)
    auth = clinic.auths["procedure"]
    login(page, "qian")
    page.goto("/reviews/")
    page.get_by_role("link", name="甲诊所").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026-Q1")
    shot(page, "review-page")
    denied = page.locator("tr", has_text="填充物注射")
    denied.get_by_role("link", name="登记问题").click()

    expect(page.get_by_role("heading", name="登记问题", level=1)).to_be_visible()
    page.get_by_label(re.compile(r"^授权")).select_option(str(auth.pk))
    page.get_by_label("严重程度").select_option("high")
    page.get_by_label("问题描述").fill("超范围注射;暂停肉毒毒素注射授权待复训")
    page.get_by_label("暂停授权").check()
    shot(page, "finding-form")
    page.get_by_role("button", name="登记", exact=True).click()

    expect(page.get_by_text("问题已登记")).to_be_visible()
    finding = Finding.objects.get()
    card = page.get_by_role("article", name=re.compile(f"#{finding.pk}"))
    expect(card).to_contain_text("暂停授权")
    expect(card).to_contain_text("超范围注射;暂停肉毒毒素注射授权待复训")
    shot(page, "finding-suspended")
    assert Authorization.objects.get(pk=auth.pk).status == "suspended"
    assert AuditEntry.objects.filter(
        object_type="authz.authorization", object_id=str(auth.pk), action="authz.authorization.suspended"
    ).exists()

    # 甲's compliance officer asks the check page: the same injection is now refused.
    switch_user(page, "zhao")
    run_check(page, clinic)
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"不允许$"))
    expect(verdict.get_by_role("listitem").filter(has_text="AUTHORIZATION_SUSPENDED")).to_contain_text(
        f"授权 #{auth.pk} 已暂停"
    )
    shot(page, "check-denied")
    row = DecisionLog.objects.get(pk=shown_log_id(page))
    assert row.outcome == "deny" and "AUTHORIZATION_SUSPENDED" in row.reason_codes
    assert row.asked_by == clinic.world.users["zhao"]


def test_the_review_page_on_a_tablet_marks_an_item_ok_in_place(page, clinic, shot):
    campaign = _review(clinic)
    login(page, "qian")
    tablet(page)
    page.goto(f"/reviews/{campaign.pk}/")
    item = ChecklistItem.objects.filter(campaign=campaign, category=ItemCategory.MONTHLY_CHECK).order_by(
        "pk"
    )[0]
    row = page.locator(f"#item-{item.pk}")
    row.get_by_label("检查说明").fill("已核对十月授权档案")
    row.get_by_role("button", name="合格").click()
    row = page.locator(f"#item-{item.pk}")
    expect(row).to_contain_text("已核对十月授权档案")
    expect(row.get_by_role("button", name="合格")).to_have_count(0)
    assert page.url.endswith(f"/reviews/{campaign.pk}/")  # swapped in place, no navigation
    shot(page, "review-tablet")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "sideways scroll at 768px"
    )
    item.refresh_from_db()
    assert item.status == "ok"
