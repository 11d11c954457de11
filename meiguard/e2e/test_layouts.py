"""Layouts for the room (issue 16 item 6): on a phone the main navigation folds behind 菜单 while the quick check
stays one tap away, and a list's rows become labelled cards; on a desktop both stay as they were."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import PHONE, desktop, login


def _cell_display(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('.table-wrap > table tbody td')).display")


def test_a_phone_folds_the_menu_and_shows_lists_as_cards(phone: Page, clinic, shot):
    login(phone, "zhao")
    header = phone.locator("header.top")
    menu = header.get_by_role("button", name="菜单")
    registry = header.get_by_role("link", name="登记注册", exact=True)
    quick = header.locator("a.quick")

    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(registry).to_be_hidden()
    expect(quick).to_be_visible()  # the doctor's check stays one tap away
    expect(header.get_by_role("button", name="退出")).to_be_visible()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(registry).to_be_visible()
    box = registry.bounding_box()
    assert box is not None and box["height"] >= 40, box  # a touch target once unfolded
    registry.click()
    phone.goto("/registry/practitioners/")

    table = phone.locator(".table-wrap > table").first
    expect(table).to_have_class("cards-sm")
    first = table.locator("tbody td").first
    expect(first).to_have_attribute("data-label", "姓名")
    assert _cell_display(phone) == "block"
    row = table.locator("tbody tr").first.bounding_box()
    assert row is not None and row["width"] >= 0.8 * PHONE["width"], row
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(phone, "practitioners-as-cards")


def test_a_desktop_keeps_the_menu_and_the_table(page: Page, clinic):
    desktop(page)
    login(page, "zhao")
    header = page.locator("header.top")
    expect(header.get_by_role("button", name="菜单")).to_be_hidden()
    expect(header.get_by_role("link", name="登记注册", exact=True)).to_be_visible()
    page.goto("/registry/practitioners/")
    assert _cell_display(page) == "table-cell"


def test_a_doctor_checks_on_a_phone_in_four_interactions(phone: Page, clinic, shot):
    """The doctor at the chair (issue 16 acceptance: under 6 interactions): the quick 核验 button, type part of
    the procedure's name, 核验 — the only institution and the doctor themself are chosen already — and the
    verdict fills the screen's width in view."""
    login(phone, "li")
    interactions = 0

    phone.locator("header.top a.quick").click()
    interactions += 1
    expect(phone.get_by_label("机构")).to_have_value(str(clinic.jia.pk))
    expect(phone.locator("select[name=practitioner]")).to_have_value(str(clinic.li.pk))

    phone.locator("input[data-filter-for=id_procedure]").fill("肉毒毒素注射")
    interactions += 1
    expect(phone.locator("select[name=procedure]")).to_have_value("derm-botulinum-toxin-injection")

    phone.get_by_role("button", name="核验", exact=True).click()
    interactions += 1
    verdict = phone.get_by_role("article", name=re.compile("核验结论"))
    expect(verdict.get_by_role("heading")).to_have_text(re.compile(r"核验结论:\s*✓\s*允许$"))
    assert interactions < 6

    badge = verdict.locator("h2 .badge")
    expect(badge).to_be_in_viewport()
    box = badge.bounding_box()
    assert box is not None and box["width"] >= 0.8 * PHONE["width"], box
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(phone, "phone-check-allowed")
