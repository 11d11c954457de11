"""A complaint from the public on a phone (390 px): from the institution's public page the client files a
complaint, keeps the tracking number, the institution's officer (notified) acknowledges, investigates and
resolves it on the complaints app's staff pages, and the status page shows 已办结 — never the client's name or phone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from meiguard.clinical.tests.conftest import clin  # noqa: F401  (fixtures)
from meiguard.complaints.models import Complaint
from meiguard.notify.models import Notification

from .conftest import PHONE, login

NAME = "投诉人陈某某"
MOBILE = "13987654321"


def _no_sideways_scroll(p: Page, where: str) -> None:
    width = p.evaluate("window.innerWidth")
    assert width == PHONE["width"], f"{where}: laid out {width} px wide"
    assert p.evaluate("document.documentElement.scrollWidth") <= width, f"{where}: scrolls sideways"


def test_a_complaint_is_filed_and_tracked_to_resolution(page: Page, phone: Page, clin, shot) -> None:  # noqa: F811
    jia = clin.clinic.jia
    phone.goto(f"/p/institutions/{jia.pk}/")
    phone.get_by_test_id("institution-complaint").click()
    expect(phone.get_by_role("heading", name="投诉与举报")).to_be_visible()
    expect(phone.locator("#institution")).to_have_value(str(jia.pk))
    _no_sideways_scroll(phone, "form")

    phone.get_by_label("一般投诉", exact=True).check()
    phone.locator("#category").select_option(label="价格收费")
    phone.locator("#description").fill("实际收费比公示价格高出两千元,未提前告知。")
    phone.locator("#name").fill(NAME)
    phone.locator("#phone").fill("139")  # a wrong number first: precise message, nothing echoed
    phone.get_by_role("button", name="提交").click()
    expect(phone.get_by_test_id("complaint-errors")).to_contain_text("请输入 11 位手机号码(1 开头)")
    expect(phone.locator("#description")).to_have_value("实际收费比公示价格高出两千元,未提前告知。")
    assert NAME not in phone.content()
    phone.locator("#name").fill(NAME)
    phone.locator("#phone").fill(MOBILE)
    shot(phone, "form")
    phone.get_by_role("button", name="提交").click()

    expect(phone.get_by_text("保存好您的查询号")).to_be_visible()
    tracking_no = phone.get_by_test_id("tracking-no").inner_text().strip()
    assert tracking_no.startswith("TS")
    assert MOBILE not in phone.content() and NAME not in phone.content()
    _no_sideways_scroll(phone, "tracking number")
    shot(phone, "tracking-number")

    c = Complaint.objects.get(tracking_no=tracking_no)
    assert (c.channel, c.category, c.institution_id) == ("public", "price", jia.pk)
    # 授权专员 of 甲 was notified at intake; on the staff pages the complainant is named to those handling it.
    assert Notification.objects.filter(
        recipient=clin.world.users["zhao"], dedupe_key=f"complaints:{c.pk}:received"
    ).exists()
    login(page, "zhao")
    page.goto(f"/complaints/{c.pk}/")
    expect(page.get_by_text(NAME).first).to_be_visible()
    page.locator("#a-ack").fill("已电话联系投诉人")
    page.get_by_role("button", name="已回应投诉人").click()
    page.get_by_role("button", name="开始调查").click()
    page.locator("#a-res").fill("退还差价两千元")
    page.get_by_role("button", name="记录处理结果").click()
    expect(page.get_by_role("button", name="结案")).to_be_visible()
    c.refresh_from_db()
    assert c.status == "resolved"

    phone.get_by_role("link", name="查询处理进度").click()
    phone.locator("#no").fill(tracking_no)
    phone.locator("#tail").fill(MOBILE[-4:])
    phone.get_by_role("button", name="查询").click()
    result = phone.get_by_test_id("status-result")
    expect(result.locator(".verdict")).to_contain_text("已办结")
    expect(result).to_contain_text(jia.name)
    for step in ("已受理", "已回应", "调查处理中"):
        expect(result.get_by_text(step, exact=True)).to_be_visible()
    assert "退还差价" not in phone.content() and MOBILE not in phone.content()
    _no_sideways_scroll(phone, "status")
    shot(phone, "resolved")

    phone.locator("#no").fill(tracking_no)
    phone.locator("#tail").fill("0000")
    phone.get_by_role("button", name="查询").click()
    expect(phone.get_by_test_id("status-not-found")).to_contain_text("未查到")
