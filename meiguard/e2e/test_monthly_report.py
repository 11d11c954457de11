"""The monthly compliance report in the browser (768 px): a filler case is closed; at the 24-hour follow-up the
nurse finds a moderate reaction; the 主诊 records the revisit within the 2-hour clock; the 授权专员 generates last
month's report and it shows 100 % of reactions handled on time and no loss to follow-up. Another case is lost to
follow-up; the report generated again (a new version, the old one kept) shows the loss rate moved and off target,
with a rectification item that the 授权专员 closes with a note.

The live server keeps its real clock, so the rows of the journey are moved back into last month (as if it had
happened then) rather than changing the time; setup that is not what the journey tests uses the domain actions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F
from django.utils import timezone
from playwright.sync_api import Page, expect

from meiguard.aftercare import actions as aftercare
from meiguard.aftercare.models import AdverseReaction, FollowUp, ReactionStep
from meiguard.clinical import actions
from meiguard.clinical.models import Case
from meiguard.clinical.tests.conftest import FILLER, clin  # noqa: F401  (fixture)
from meiguard.clinical.tests.test_record import filler  # noqa: F401  (fixture)
from meiguard.compliance import policy
from meiguard.compliance.models import MonthlyReport, Rectification

from .conftest import login, tablet
from .helpers import switch_user


def _treat(clin, lot) -> Case:  # noqa: F811
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
    return case


def _figure(page: Page, code: str):
    return page.locator(f'tr[data-figure="{code}"]')


def test_reactions_on_time_and_loss_to_follow_up_in_the_monthly_report(page, clin, filler, shot):  # noqa: F811
    _product, lot = filler
    case = _treat(clin, lot)
    FollowUp.objects.filter(case=case).update(due_at=F("due_at") - dt.timedelta(hours=24, minutes=5))

    # The nurse records the 24 h follow-up with a moderate reaction.
    tablet(page)
    login(page, "zhang")
    page.locator('[data-panel="aftercare"]').get_by_role("link", name=f"{case.code} · 术后随访 24h").click()
    page.get_by_label("恢复情况").select_option("slow")
    page.get_by_label("有不良反应迹象").check()
    page.get_by_label("不良反应分级(有迹象时)").select_option("moderate")
    page.get_by_label("不良反应表现").fill("注射部位红肿加重,感染倾向")
    page.get_by_role("button", name="保存随访记录").click()
    expect(page.get_by_text("随访已记录")).to_be_visible()

    # The 主诊 records the revisit within the 2-hour clock.
    switch_user(page, "li")
    page.locator('[data-panel="aftercare"]').get_by_role("link", name=f"{case.code} · 中度").click()
    page.get_by_label("步骤").select_option("revisit")
    page.get_by_label("说明").fill("复诊:局部感染倾向,已处理")
    page.get_by_role("button", name="记录处置步骤").click()
    expect(page.locator(".clock-state")).to_have_attribute("data-state", "on_time")

    # As if all this happened last month: every time of the case's follow-ups and reaction moves back.
    now = timezone.localtime()
    back = dt.timedelta(days=now.day + 1)
    last_month = policy.previous_month(now.date())
    FollowUp.objects.filter(case=case).update(due_at=F("due_at") - back)
    FollowUp.objects.filter(case=case, done_at__isnull=False).update(done_at=F("done_at") - back)
    AdverseReaction.objects.filter(case=case).update(
        reported_at=F("reported_at") - back,
        clock_started_at=F("clock_started_at") - back,
        due_at=F("due_at") - back,
        handled_at=F("handled_at") - back,
    )
    ReactionStep.objects.filter(reaction__case=case).update(at=F("at") - back)

    # The 授权专员 generates last month's report: reactions handled on time 100 %, nobody lost.
    switch_user(page, "zhao")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="月度合规报告").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("月度合规报告")
    expect(page.get_by_label("报告月份")).to_have_value(f"{last_month:%Y-%m}")
    page.get_by_role("button", name="生成(已有报告时生成新版本,旧版本保留)").click()
    expect(page.get_by_text("已生成报告(第 1 版)")).to_be_visible()
    on_time = _figure(page, "reactions_on_time")
    expect(on_time).to_have_attribute("data-value", "100.0%")
    expect(on_time).to_have_attribute("data-status", "met")
    expect(on_time).to_contain_text("1 / 1")
    expect(on_time).to_contain_text("工作计划")  # the readable source of the 98 % target
    expect(_figure(page, "loss_to_follow_up")).to_have_attribute("data-value", "0.0%")
    expect(page.locator("#chart-targets-t")).to_have_count(1)
    shot(page, "monthly-report-v1")

    # Another case is lost to follow-up last month (its contacts far overdue; the clock job marks them lost).
    other = _treat(clin, lot)
    first = FollowUp.objects.filter(case=other, kind="contact").order_by("due_at").first()
    assert first is not None
    target = timezone.make_aware(dt.datetime.combine(last_month.replace(day=10), dt.time(10)))
    FollowUp.objects.filter(case=other).update(due_at=F("due_at") - (first.due_at - target))
    aftercare.run_clocks(timezone.now())
    assert FollowUp.objects.filter(case=other, status="lost").exists()

    page.get_by_role("button", name="按最新数据重新生成(新版本,旧版本保留)").click()
    expect(page.get_by_text("已生成报告(第 2 版)")).to_be_visible()
    loss = _figure(page, "loss_to_follow_up")
    expect(loss).to_have_attribute("data-value", "50.0%")
    expect(loss).to_have_attribute("data-status", "off_target")
    expect(loss).to_contain_text("1 / 2")
    expect(_figure(page, "reactions_on_time")).to_have_attribute("data-value", "100.0%")
    expect(page.get_by_role("link", name="v1")).to_be_visible()  # the first version is kept
    item = page.locator('[data-rectification="loss_to_follow_up"]')
    expect(item).to_contain_text("失访率 为 50.0%,未达到目标 ≤ 5%")
    expect(item).to_contain_text("医务科")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "monthly-report-v2")

    item.get_by_label("整改说明").fill("逐例电话回访,补充随访联系人")
    item.get_by_role("button", name="整改完成,关闭").click()
    expect(page.get_by_text("整改事项已关闭")).to_be_visible()
    expect(page.locator('[data-rectification="loss_to_follow_up"]')).to_have_attribute(
        "data-status", "closed"
    )
    assert MonthlyReport.objects.filter(month=last_month).count() == 2
    assert (
        Rectification.objects.get(figure_code="loss_to_follow_up").closing_note
        == "逐例电话回访,补充随访联系人"
    )

    # Phone width: the report and the list fit without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.goto("/compliance/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # The association sees its member side by side, the loss rate off target in red.
    page.set_viewport_size({"width": 768, "height": 1024})
    switch_user(page, "qian")
    page.goto("/compliance/")
    page.get_by_role("link", name="协会汇总(成员机构对比)").click()
    page.get_by_label("报告月份").fill(f"{last_month:%Y-%m}")
    page.get_by_role("button", name="查看").click()
    cell = page.locator(f'tr[data-figure="loss_to_follow_up"] td[data-institution="{clin.clinic.jia.pk}"]')
    expect(cell).to_have_attribute("data-status", "off_target")
    expect(cell).to_contain_text("50.0%")
    shot(page, "association-rollup")
