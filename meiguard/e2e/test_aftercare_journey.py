"""Aftercare in the browser: a filler case is closed (its plan is made by the close hook); at the 24-hour
follow-up the nurse finds a moderate reaction and records it from her dashboard; the 主诊 sees it on his, records
the revisit within the 2-hour clock, and the reaction shows "handled on time". At phone width (390 px) the
pages fit without sideways scrolling.

Setup steps that are not what the journey tests use the domain actions; the plan is moved 24 hours back
(as if a day had passed) instead of changing the clock of the live server.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F
from playwright.sync_api import Page, expect

from meiguard.aftercare.models import AdverseReaction, FollowUp
from meiguard.clinical import actions
from meiguard.clinical.tests.conftest import FILLER, clin  # noqa: F401  (fixture)
from meiguard.clinical.tests.test_record import filler  # noqa: F401  (fixture)

from .conftest import login, tablet
from .helpers import switch_user


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_moderate_reaction_found_at_24h_is_revisited_on_time(page, clin, filler, shot):  # noqa: F811
    _product, lot = filler
    case = clin.ready(FILLER)
    li = clin.actor("li")
    actions.open_record(li, case.pk)
    actions.add_usage(
        li,
        case.pk,
        usage_key="u1",
        lot_id=lot.pk,
        dose_value=Decimal("1.0"),
        dose_unit="ml",
        site="鼻唇沟",
        minutes=10,
    )
    actions.close_record(li, case.pk, notes="顺利")
    assert FollowUp.objects.filter(case=case, kind="contact").count() == 3  # 24 h, 1 w, 1 m
    FollowUp.objects.filter(case=case).update(due_at=F("due_at") - dt.timedelta(hours=24, minutes=5))

    # The nurse: her dashboard lists the 24 h contact as overdue; she records it with a moderate reaction.
    tablet(page)
    login(page, "zhang")
    panel = page.locator('[data-panel="aftercare"]')
    expect(panel).to_contain_text(f"{case.code} · 术后随访 24h")
    panel.get_by_role("link", name=f"{case.code} · 术后随访 24h").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("术后随访 24h")
    page.get_by_label("恢复情况").select_option("slow")
    page.get_by_label("满意度(1–5)").fill("3")
    page.get_by_label("有不良反应迹象").check()
    page.get_by_label("不良反应分级(有迹象时)").select_option("moderate")
    page.get_by_label("不良反应表现").fill("注射部位红肿加重,触痛,感染倾向")
    shot(page, "follow-up-form")
    page.get_by_role("button", name="保存随访记录").click()
    expect(page.get_by_text("随访已记录")).to_be_visible()
    rx = AdverseReaction.objects.get(case=case)
    assert rx.grade == "moderate" and rx.assignee_id == clin.clinic.li.pk and list(rx.lots.all()) == [lot]

    # The 主诊: the reaction is his, with its 2-hour clock; he records the revisit.
    switch_user(page, "li")
    panel = page.locator('[data-panel="aftercare"]')
    panel.get_by_role("link", name=f"{case.code} · 中度").click()
    clock = page.locator(".clock-state")
    expect(clock).to_have_attribute("data-state", "running")
    expect(page.get_by_text("主诊医师复诊").first).to_be_visible()
    expect(page.get_by_text("工作计划").first).to_be_visible()  # the readable source, never an id
    expect(page.get_by_text(lot.lot_no)).to_be_visible()
    page.get_by_label("步骤").select_option("revisit")
    page.get_by_label("说明").fill("复诊:局部感染倾向,已处理并开具外用药")
    page.get_by_role("button", name="记录处置步骤").click()
    expect(page.locator(".clock-state")).to_have_attribute("data-state", "on_time")
    expect(page.locator(".clock-state")).to_contain_text("按时处置")
    expect(page.locator("ol.steps")).to_contain_text("李医生")
    shot(page, "reaction-handled-on-time")

    # Phone width: the reaction page and the follow-up list fit.
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    page.goto(f"/aftercare/follow-ups/?case={case.pk}")
    expect(page.get_by_text("短期效果评估").first).to_be_visible()
    rx.refresh_from_db()
    assert rx.handled_at is not None and rx.handled_at <= rx.due_at
