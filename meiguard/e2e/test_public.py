"""The public side on a phone (390 px): the staff shows the case's QR code, the client opens it (as a scan would)
and sees every check; after a recall the same code shows red; an expired code is refused. Steps not under
test (receiving a box, the case's pre-operative steps, recording the unit) use the domain actions."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from meiguard.inventory import recall
from meiguard.inventory.tests.conftest import clin, inv  # noqa: F401  (fixtures)
from meiguard.public import tokens

from .conftest import PHONE, login


def _no_sideways_scroll(p: Page, where: str) -> None:
    width = p.evaluate("window.innerWidth")
    assert width == PHONE["width"], f"{where}: laid out {width} px wide"
    assert p.evaluate("document.documentElement.scrollWidth") <= width, f"{where}: scrolls sideways"


def _token_url(page: Page, case_pk: int) -> str:
    """The staff opens the case page, presses the QR button, and the page shows the code and its link."""
    page.goto(f"/clinical/cases/{case_pk}/")
    page.get_by_test_id("case-qr-button").click()
    expect(page.get_by_test_id("case-qr")).to_be_visible()
    src = page.get_by_test_id("case-qr").get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml;base64,")
    href = page.get_by_test_id("case-qr-link").get_attribute("href") or ""
    assert "/p/c/" in href
    return href


def test_the_client_scans_the_case_qr_and_sees_every_check_then_red_after_a_recall(
    page: Page,
    phone: Page,
    inv,  # noqa: F811
    shot,
) -> None:
    line, codes = inv.box(3)
    case = inv.open_case()
    inv.use(case, codes[0])
    login(page, "zhao")
    url = _token_url(page, case.pk)
    shot(page, "staff-qr")

    phone.goto(url)  # what the phone's camera opens
    verdict = phone.locator(".verdict")
    expect(verdict).to_contain_text("核验通过")
    for label in (
        "执业许可证有效",
        "执业注册",
        "该医生在本机构获准开展此项目",
        "产品注册证在有效期内",
        "批次未过期",
        "批次未被召回",
        "经授权供应商验收入库",
        "此包装未被使用过",
    ):
        expect(phone.get_by_text(label, exact=False).first).to_be_visible()
    expect(phone.get_by_text(inv.clinic.li.name).first).to_be_visible()
    expect(phone.get_by_text(case.procedure_name).first).to_be_visible()
    assert phone.locator("li.bad").count() == 0
    assert phone.locator('meta[name="robots"]').get_attribute("content") == "noindex, nofollow"
    _no_sideways_scroll(phone, "case verification")
    shot(phone, "verified")

    recall.recall_lot(inv.actor("zhao"), line.lot_id, level=1, reason="厂家召回通知")
    phone.reload()
    expect(phone.locator(".verdict")).to_contain_text("核验未通过")
    expect(phone.locator("li.bad").filter(has_text="批次未被召回")).to_be_visible()
    expect(phone.get_by_text("已被召回").first).to_be_visible()
    background = phone.locator(".verdict").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(207, 34, 46)"  # red
    _no_sideways_scroll(phone, "recalled")
    shot(phone, "recalled")


def test_an_expired_qr_is_refused(phone: Page, inv, settings) -> None:  # noqa: F811
    settings.PUBLIC_VERIFY_TOKEN_TTL = 1
    case = inv.clin.case()
    url = f"/p/c/{tokens.make(case.pk)}/"
    time.sleep(2.2)
    response = phone.goto(url)
    assert response is not None and response.status == 410
    expect(phone.locator(".verdict")).to_contain_text("二维码已过期")
    expect(phone.get_by_text(case.procedure_name)).to_have_count(0)
    _no_sideways_scroll(phone, "expired")


def test_the_public_lookups_fit_a_phone(phone: Page, inv) -> None:  # noqa: F811
    _line, codes = inv.box(1)
    phone.goto("/p/")
    phone.get_by_placeholder("机构名称").fill("甲")
    phone.get_by_role("button", name="查询").first.click()
    phone.get_by_role("link", name=inv.clinic.jia.name).click()
    expect(phone.get_by_role("heading", name="明码标价")).to_be_visible()
    _no_sideways_scroll(phone, "institution")
    phone.goto("/p/verify/")
    phone.get_by_placeholder("UDI 条码或 20 位追溯码").fill(codes[0])
    phone.get_by_role("button", name="验真").click()
    expect(phone.locator(".verdict")).to_contain_text("未发现问题")
    _no_sideways_scroll(phone, "verify")
    phone.get_by_role("link", name="English").click()
    expect(phone.locator(".verdict")).to_contain_text("No findings")
