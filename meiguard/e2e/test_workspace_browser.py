"""The staff workspace in a real browser (moved here from ``meiguard/workspace/tests/test_accessibility.py``,
whose stylesheet contrast checks stay there): at 768 px pages do not scroll sideways and wide tables scroll in
their own region, the header's links wrap; the keyboard reaches the sortable column headers with a visible
focus ring; a dashboard panel refreshes in place with htmx."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from meiguard.workspace.tests import helpers as h

from .conftest import login, tablet

PAGES = [
    "/",
    "/registry/institutions/",
    "/registry/practitioners/",
    "/registry/lots/?sort=-expiry_date",
    "/authz/authorizations/",
    "/authz/decisions/",
    "/registry/practitioners/{li}/",
]
PHONE = {"width": 480, "height": 1024}


def test_pages_fit_a_tablet_and_tables_scroll_in_their_own_region(page, clinic, shot):
    h.expiring_lot(clinic, 5, lot_no="AVERYLONGLOTNUMBERTHATWIDENSTHETABLE2026")
    h.decide(clinic, at=timezone.now(), deny=True)
    login(page, "zhao")
    tablet(page)
    for path in PAGES:
        page.goto(path.format(li=clinic.li.pk))
        assert page.locator("h1").count() == 1, path
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (path, scroll, inner)
        for region in page.locator(".table-wrap").all():
            box = region.bounding_box()
            assert box is not None and box["x"] + box["width"] <= inner + 1, path
            assert region.evaluate("e => getComputedStyle(e).overflowX") == "auto", path
    shot(page, "practitioner-tablet")
    # the header's links wrap onto more lines instead of widening the page
    page.goto("/")
    nav = page.locator("header.top nav").bounding_box()
    assert nav is not None and nav["width"] <= 768
    shot(page, "dashboard-tablet")
    # narrower still (a phone), the lot table becomes cards (one per row, cells labelled by their column);
    # whatever still does not fit scrolls inside its region, never the page
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.goto("/registry/lots/")
    table = page.locator(".table-wrap > table").first
    assert "cards-sm" in (table.get_attribute("class") or "")
    assert table.locator("tbody td").first.evaluate("e => getComputedStyle(e).display") == "block"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "lots-480px-cards")


def test_keyboard_reaches_sort_headers_with_a_visible_focus_ring(page, clinic, shot):
    login(page, "zhao")
    tablet(page)
    page.goto("/registry/institutions/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('sort')"):
            break
    else:
        pytest.fail("no sort header reachable by Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert outline == "solid" and "255, 191, 71" in ring
    shot(page, "sort-header-focused")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "sort=" in page.url
    assert page.locator("th[aria-sort]").count() == 1


def test_a_panel_refreshes_in_place_with_htmx(page, clinic, shot):
    login(page, "zhao")
    tablet(page)
    page.goto("/")
    panel = page.get_by_role("region", name="近7天被拒绝的核验")
    count = page.locator("#panel-denied .headline .n")
    expect(count).to_have_text("0")
    h.decide(clinic, at=timezone.now(), deny=True)
    url = page.url
    panel.get_by_role("link", name="刷新").click()
    expect(count).to_have_text("1")
    assert page.url == url  # no navigation: the panel was swapped
    shot(page, "panel-refreshed")
