"""Device upkeep in a real browser (issue 13 acceptance): 甲's RF device fails its inspection in the device file →
the point-of-care check with that device is denied (DEVICE_FAILED_CHECK) → a passing inspection is recorded →
the same check is allowed. At phone width the file and its form still work."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from meiguard.authz.models import DecisionLog
from meiguard.equipment.models import UpkeepRecord

from .conftest import login
from .helpers import AT, PROCEDURE, choose_institution, result


def _check_with_device(page: Page, clinic) -> None:
    page.goto("/authz/check/")
    choose_institution(page, clinic.jia.pk)
    page.get_by_label("执业人员").select_option(str(clinic.li.pk))
    page.get_by_label("项目").select_option(PROCEDURE)
    page.get_by_label("批次 1", exact=True).select_option(str(clinic.lot.pk))
    page.get_by_label("批次 1 · 剂量").fill("50")
    page.get_by_label(re.compile("RF-0001")).check()
    page.get_by_label("核验时点").fill(AT)
    page.get_by_role("button", name="核验", exact=True).click()


def _record_inspection(page: Page, clinic, *, day: str, result_label: str, findings: str = "") -> None:
    form = page.locator("#record-form")
    form.get_by_label("类别", exact=True).select_option("inspection")
    form.get_by_label("日期", exact=True).fill(day)
    form.get_by_label("结果", exact=True).select_option(label=result_label)
    form.get_by_label("执行人类别", exact=True).select_option("staff")
    form.get_by_label("本机构执行人", exact=True).select_option(str(clinic.world.users["wang"].pk))
    form.get_by_label("发现的问题/处理情况", exact=True).fill(findings)
    with page.expect_navigation():
        form.get_by_role("button", name="保存记录").click()


def test_a_failed_inspection_denies_the_device_until_a_passing_one(page, clinic, shot):
    login(page, "wang")
    page.goto("/equipment/")
    expect(page.get_by_role("heading", name="设备档案", level=1)).to_be_visible()
    page.get_by_role("link", name=re.compile("RF-0001")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("RF-0001")

    # A failed result without findings is refused in place (htmx), nothing saved.
    form = page.locator("#record-form")
    form.get_by_label("结果", exact=True).select_option(label="不合格")
    form.get_by_label("本机构执行人", exact=True).select_option(str(clinic.world.users["wang"].pk))
    form.get_by_role("button", name="保存记录").click()
    expect(page.locator("#record-form").get_by_role("alert")).to_contain_text("须写明发现的问题")
    assert not UpkeepRecord.objects.exists()

    _record_inspection(page, clinic, day="2026-03-03", result_label="不合格", findings="输出能量偏差 15%")
    expect(page.get_by_role("heading", level=1)).to_contain_text("检查未通过停用")
    shot(page, "device-failed-inspection")

    _check_with_device(page, clinic)
    verdict = result(page)
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✗\s*不允许$"))
    expect(verdict.get_by_role("listitem").filter(has_text="DEVICE_FAILED_CHECK")).to_contain_text(
        "检查或校准未通过"
    )
    shot(page, "device-check-denied")

    page.goto(f"/equipment/devices/{clinic.device.pk}/")
    _record_inspection(page, clinic, day="2026-03-04", result_label="合格")
    expect(page.get_by_role("heading", level=1)).to_contain_text("在用")

    _check_with_device(page, clinic)
    expect(result(page).get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✓\s*允许$"))
    outcomes = list(DecisionLog.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["deny", "allow"]
    assert list(UpkeepRecord.objects.order_by("pk").values_list("result", "status_after")) == [
        ("fail", "failed_check"),
        ("pass", "active"),
    ]

    # Phone width: the file, its history and the form fit.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/equipment/devices/{clinic.device.pk}/")
    expect(page.get_by_role("button", name="保存记录")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "device-file-phone")
